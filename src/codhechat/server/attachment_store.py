"""The database side of extension `attachments`: files kept per user, linked to the
message that carried them, and turned into the model's content parts as local mode does
(codhechat.attachments). Every read names the user: another user's file is never found."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from codhechat.attachments import content_part
from codhechat.models import AttachedFile, Attachment
from codhechat.server.models import Conversation, Message, StoredAttachment


class AttachmentsRefused(ValueError):
    """A message named files that are not the sender's, or were sent already."""


def attached(row: StoredAttachment) -> AttachedFile:
    return AttachedFile(Attachment(row.name, row.mime, row.kind, row.size, row.sha256), row.data)


async def add(session: AsyncSession, *, user_id: int, file: AttachedFile) -> StoredAttachment:
    a = file.attachment
    row = StoredAttachment(user_id=user_id, name=a.name[:255], mime=a.mime, kind=a.kind, size=a.size,
                           sha256=a.sha256, data=file.data)  # fmt: skip
    session.add(row)
    await session.commit()
    await session.refresh(row, attribute_names=["id", "message_id"])
    return row


async def get(session: AsyncSession, *, user_id: int, attachment_id: int) -> StoredAttachment | None:
    found = select(StoredAttachment).where(StoredAttachment.id == attachment_id, StoredAttachment.user_id == user_id)
    return (await session.scalars(found)).first()


async def check_unsent(session: AsyncSession, *, user_id: int, ids: Sequence[int]) -> None:
    """Raise AttachmentsRefused unless every id is one of the user's files not sent yet."""
    if not ids:
        return
    count = select(func.count()).where(
        StoredAttachment.id.in_(set(ids)), StoredAttachment.user_id == user_id, StoredAttachment.message_id.is_(None)
    )
    if await session.scalar(count) != len(set(ids)):
        raise AttachmentsRefused("An attached file was not found on the server (attach it again).")


async def link(session: AsyncSession, *, user_id: int, message_id: int, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(
            update(StoredAttachment)
            .where(StoredAttachment.id.in_(set(ids)), StoredAttachment.user_id == user_id)
            .values(message_id=message_id)
        )


async def parts_of(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The content parts of the files carried by these messages, in upload order."""
    if not message_ids:
        return {}
    rows = await session.scalars(
        select(StoredAttachment).where(StoredAttachment.message_id.in_(message_ids)).order_by(StoredAttachment.id)
    )
    parts: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        assert row.message_id is not None
        parts.setdefault(row.message_id, []).append(content_part(attached(row)))
    return parts


async def of_conversation(
    session: AsyncSession, *, user_id: int, conversation_id: int
) -> list[StoredAttachment] | None:
    """The files of a conversation's messages (their bytes not loaded); None if it is not the user's."""
    owned = select(Conversation.id).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    if await session.scalar(owned) is None:
        return None
    rows = await session.execute(
        select(StoredAttachment.id, StoredAttachment.name, StoredAttachment.mime, StoredAttachment.kind,
               StoredAttachment.size, StoredAttachment.sha256, StoredAttachment.message_id)
        .join(Message, Message.id == StoredAttachment.message_id)
        .where(Message.conversation_id == conversation_id, StoredAttachment.user_id == user_id)
        .order_by(StoredAttachment.id)
    )  # fmt: skip
    return [
        StoredAttachment(id=i, name=n, mime=m, kind=k, size=s, sha256=h, message_id=mid)
        for i, n, m, k, s, h, mid in rows
    ]
