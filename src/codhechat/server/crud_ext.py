"""Queries of the conversation extensions (pin, a model and system prompt of its own, a
reply's usage, JSON export and import), keyword-only and scoped to the owner, as crud.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from codhechat import models as app_models
from codhechat.models import ConversationRecord, MessageStatus
from codhechat.native_format import resolved
from codhechat.server.crud import _table
from codhechat.server.models import Conversation, Message, utcnow


async def set_pinned(session: AsyncSession, *, conversation: Conversation, pinned: bool) -> Conversation:
    """Pin (now, so the latest pin heads the list) or unpin; a pin does not count as activity."""
    if pinned != (conversation.pinned_at is not None):
        conversation.pinned_at = utcnow() if pinned else None
        await session.commit()
    return conversation


async def set_options(
    session: AsyncSession, *, conversation: Conversation, model: str | None, system_prompt: str | None
) -> Conversation:
    conversation.model, conversation.system_prompt = model, system_prompt
    await session.commit()
    return conversation


# -- export and import (codhechat.native_format) ---------------------------------------
def conversation_of(row: Conversation) -> app_models.Conversation:
    return app_models.Conversation(
        id=row.id, title=row.name, created_at=row.created_at, updated_at=row.updated_at, model=row.model,
        pinned_at=row.pinned_at, system_prompt=row.system_prompt,
    )  # fmt: skip


def message_of(row: Message) -> app_models.Message:
    try:
        status = MessageStatus(row.status)
    except ValueError:
        status = MessageStatus.COMPLETE
    return app_models.Message(
        id=row.id, conversation_id=row.conversation_id, role=row.role,  # type: ignore[arg-type]
        content=row.content, created_at=row.timestamp, status=status, model=row.model,
        prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens,
    )  # fmt: skip


async def exported(
    session: AsyncSession, *, user_id: int
) -> list[tuple[app_models.Conversation, list[app_models.Message]]]:
    """Every conversation of the user, oldest first (as `codhechat export --all`), with its messages."""
    conversations = (
        await session.scalars(
            select(Conversation)
            .where(Conversation.user_id == user_id)
            .order_by(Conversation.created_at, Conversation.id)
        )
    ).all()
    pairs = []
    for conversation in conversations:
        rows = await session.scalars(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
        )
        pairs.append((conversation_of(conversation), [message_of(m) for m in rows]))
    return pairs


@dataclass(frozen=True, slots=True)
class Imported:
    ids: list[int]
    skipped: list[str]
    left_out: dict[str, int]


def current_path(record: ConversationRecord) -> list[int]:
    """The indices of the messages on the record's current path, oldest first (the server
    keeps one path per conversation)."""
    parents, current = resolved(record)
    path: list[int] = []
    at = current
    while at is not None and len(path) <= len(parents):
        path.append(at)
        at = parents[at]
    return path[::-1]


async def import_records(session: AsyncSession, *, user_id: int, records: Sequence[ConversationRecord]) -> Imported:
    """Add whole conversations, timestamps as given, in one transaction (all or nothing).
    One already there (same title and creation time, as after importing a file twice) is
    skipped. What a server conversation cannot hold is left out and counted: other
    branches than the current path, tool messages."""
    conversations, messages = _table(Conversation), _table(Message)
    ids: list[int] = []
    skipped: list[str] = []
    left_out: dict[str, int] = {}
    for record in records:
        created = datetime.fromisoformat(record.created_at)
        mine = (conversations.c.user_id == user_id, conversations.c.name == record.title,
                conversations.c.created_at == created)  # fmt: skip
        there = await session.scalar(select(conversations.c.id).where(*mine))
        if there is not None:
            skipped.append(record.title)
            continue
        path = current_path(record)
        if len(path) < len(record.messages):
            left_out["message of other branches"] = left_out.get("message of other branches", 0) + (
                len(record.messages) - len(path)
            )
        kept = [record.messages[i] for i in path if record.messages[i].role != "tool"]
        if tools := len(path) - len(kept):
            left_out["tool message"] = left_out.get("tool message", 0) + tools
        made = insert(conversations).values(
            user_id=user_id, name=record.title, created_at=created, updated_at=datetime.fromisoformat(record.updated_at),
            pinned_at=datetime.fromisoformat(record.pinned_at) if record.pinned_at else None,
            model=record.model, system_prompt=record.system_prompt,
        )  # fmt: skip
        conversation_id = int(await session.scalar(made.returning(conversations.c.id)))
        ids.append(conversation_id)
        if kept:
            await session.execute(
                insert(messages),
                [
                    {"conversation_id": conversation_id, "role": m.role, "content": m.content,
                     "status": str(m.status), "timestamp": datetime.fromisoformat(m.created_at), "model": m.model,
                     "prompt_tokens": m.prompt_tokens, "completion_tokens": m.completion_tokens}
                    for m in kept
                ],
            )  # fmt: skip
    await session.commit()
    return Imported(ids, skipped, left_out)
