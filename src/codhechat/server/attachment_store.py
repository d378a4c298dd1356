"""The database side of extension `attachments`: files kept per user, linked to the
message that carried them, and turned into the model's content parts as local mode does
(codhechat.attachments). Every read names the user: another user's file is never found.
A turn's helpers (check_unsent, link, parts_of) run in its transaction on a bare
connection as well as on a session (tree.Db)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from codhechat.attachments import content_part
from codhechat.models import AttachedFile, Attachment
from codhechat.server.models import Conversation, Message, StoredAttachment, utcnow
from codhechat.server.tree import Db

_PARTS = (  # the files of the messages :ids, in upload order (built once: a turn reads them)
    select(StoredAttachment.message_id, StoredAttachment.name, StoredAttachment.mime, StoredAttachment.kind,
           StoredAttachment.size, StoredAttachment.sha256, StoredAttachment.data)
    .where(StoredAttachment.message_id.in_(bindparam("ids", expanding=True)))
    .order_by(StoredAttachment.id)
)  # fmt: skip


class AttachmentsRefused(ValueError):
    """A message named files that are not the sender's, or were sent already."""


async def add(
    session: AsyncSession, *, user_id: int, file: AttachedFile, unsent_bytes: int, unsent_max_age: timedelta
) -> StoredAttachment:
    """Keep `file` as one of the user's uploads not sent yet. Uploads never sent would stay
    for good (a client uploads just before it sends, so they are left only by a send that
    failed, or by a user filling the disk): those older than `unsent_max_age` go, anyone's,
    and then the user's oldest unsent ones until theirs fit in `unsent_bytes` with this one.
    A message naming a file gone is refused with "attach it again" (check_unsent)."""
    await session.execute(
        delete(StoredAttachment).where(
            StoredAttachment.message_id.is_(None), StoredAttachment.created_at < utcnow() - unsent_max_age
        )
    )
    unsent = await session.execute(
        select(StoredAttachment.id, StoredAttachment.size)
        .where(StoredAttachment.user_id == user_id, StoredAttachment.message_id.is_(None))
        .order_by(StoredAttachment.id.desc())
    )
    kept, evicted = file.attachment.size, []
    for attachment_id, size in unsent:
        kept += size
        if kept > unsent_bytes:
            evicted.append(attachment_id)
    if evicted:
        await session.execute(delete(StoredAttachment).where(StoredAttachment.id.in_(evicted)))
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


async def check_unsent(db: Db, *, user_id: int, ids: Sequence[int]) -> None:
    """Raise AttachmentsRefused unless every id is one of the user's files not sent yet."""
    if not ids:
        return
    count = select(func.count()).where(
        StoredAttachment.id.in_(set(ids)), StoredAttachment.user_id == user_id, StoredAttachment.message_id.is_(None)
    )
    if await db.scalar(count) != len(set(ids)):
        raise AttachmentsRefused("An attached file was not found on the server (attach it again).")


async def link(db: Db, *, user_id: int, message_id: int, ids: Sequence[int]) -> None:
    if ids:
        await db.execute(
            update(StoredAttachment)
            .where(StoredAttachment.id.in_(set(ids)), StoredAttachment.user_id == user_id)
            .values(message_id=message_id)
        )


async def parts_of(db: Db, message_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The content parts of the files carried by these messages, in upload order."""
    if not message_ids:
        return {}
    parts: dict[int, list[dict[str, Any]]] = {}
    for message_id, name, mime, kind, size, sha256, data in await db.execute(_PARTS, {"ids": list(message_ids)}):
        file = AttachedFile(Attachment(name, mime, kind, size, sha256), data)
        parts.setdefault(cast(int, message_id), []).append(content_part(file))  # never NULL: IN :ids
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
