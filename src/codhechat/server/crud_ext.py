"""Queries of the conversation extensions (pin, a model and system prompt of its own, a
reply's usage, JSON export and import), keyword-only and scoped to the owner, as crud.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from codhechat import models as app_models
from codhechat.models import ConversationRecord, MessageStatus
from codhechat.native_format import resolved
from codhechat.server import tree
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
        pinned_at=row.pinned_at, system_prompt=row.system_prompt, current_leaf=row.current_leaf,
    )  # fmt: skip


def message_of(row: Message) -> app_models.Message:
    try:
        status = MessageStatus(row.status)
    except ValueError:
        status = MessageStatus.COMPLETE
    return app_models.Message(
        id=row.id, conversation_id=row.conversation_id, role=row.role,  # type: ignore[arg-type]
        content=row.content, created_at=row.timestamp, status=status, model=row.model,
        prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens, parent_id=row.parent_id,
        current_child=row.current_child,
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


async def import_records(session: AsyncSession, *, user_id: int, records: Sequence[ConversationRecord]) -> Imported:
    """Add whole conversations, timestamps as given, in one transaction (all or nothing).
    One already there (same title and creation time, as after importing a file twice) is
    skipped. Every branch is kept (the server's conversations are trees too, server/tree.py);
    what a server conversation cannot hold, tool messages, is left out and counted."""
    conversations = _table(Conversation)
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
        made = insert(conversations).values(
            user_id=user_id, name=record.title, created_at=created, updated_at=datetime.fromisoformat(record.updated_at),
            pinned_at=datetime.fromisoformat(record.pinned_at) if record.pinned_at else None,
            model=record.model, system_prompt=record.system_prompt,
        )  # fmt: skip
        conversation_id = int(await session.scalar(made.returning(conversations.c.id)))
        ids.append(conversation_id)
        if tools := await _add_tree(session, conversation_id, record):
            left_out["tool message"] = left_out.get("tool message", 0) + tools
    await session.commit()
    return Imported(ids, skipped, left_out)


async def _add_tree(session: AsyncSession, conversation_id: int, record: ConversationRecord) -> int:
    """Insert the record's messages with their parents, the versions the path last took and
    its current leaf; a tool message is left out (what followed it follows its parent).
    Returns how many were left out."""
    messages = _table(Message)
    parents, current = resolved(record)
    new_id: list[int | None] = []  # the record's index -> the row (a left-out one: its parent's)
    left_out = 0
    for i, m in enumerate(record.messages):
        above = parents[i]
        parent = new_id[above] if above is not None else None
        if m.role == "tool":
            new_id.append(parent)
            left_out += 1
            continue
        row = {"conversation_id": conversation_id, "role": m.role, "content": m.content, "status": str(m.status),
               "timestamp": datetime.fromisoformat(m.created_at), "model": m.model,
               "prompt_tokens": m.prompt_tokens, "completion_tokens": m.completion_tokens,
               "parent_id": parent}  # fmt: skip
        new_id.append(int(await session.scalar(insert(messages).values(**row).returning(messages.c.id))))
    for i, m in enumerate(record.messages):
        child = new_id[m.next] if m.next is not None else None
        if child is not None and m.role != "tool" and new_id[i] != child:
            await session.execute(update(messages).where(messages.c.id == new_id[i]).values(current_child=child))
    leaf = new_id[current] if current is not None else None
    if leaf is not None:
        await tree.set_leaf(session, conversation_id, leaf)
    return left_out
