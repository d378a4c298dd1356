"""Regenerate and edit on the server (the `regenerate` and `edit` /ws frames): each begins
a turn on a branch of the conversation's tree (server/tree.py), which then runs on the
shared turn engine as any other (ChatService.reply), the model seeing only that path.

- regenerate: the new reply follows the user's message that the path's last reply
  answers (or the path's last message, when that is the user's); the old reply stays,
  its sibling. If the new one ends with no text at all, the path goes back to the old.
- edit: a new version of one of the user's messages, beside it (the same parent), and
  a reply to it; the old version stays, with what followed it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from codhechat import models
from codhechat.server import attachment_store, crud, tree
from codhechat.server.db import DatabaseUnavailable
from codhechat.server.models import Conversation, Message, utcnow
from codhechat.server.replies import RowGone, Turn
from codhechat.server.service import ChatService, ConversationNotFound

log = logging.getLogger("codhechat.server.chat")


class BranchRefused(Exception):
    """The request cannot be done on this conversation; `detail` says why (to the client)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _history(rows: Sequence[Any]) -> list[models.Message]:  # tree.recent_path's rows
    return [
        models.Message(id=m.id, conversation_id=m.conversation_id, role=m.role, content=m.content,
                       created_at=m.timestamp)
        for m in rows if m.content
    ]  # fmt: skip


async def begin(chat: ChatService, *, user_id: int, payload: dict[str, Any]) -> Turn:
    """The turn a frame asks for: a chat frame's (ChatService.begin), or a regenerate's or an edit's."""
    kind, conversation_id = payload["kind"], payload["conversation_id"]
    if kind == "regenerate":
        return await _regenerate(chat, user_id=user_id, conversation_id=conversation_id)
    if kind == "edit":
        return await _edit(chat, user_id=user_id, conversation_id=conversation_id,
                           message_id=payload["message_id"], text=payload["message"])  # fmt: skip
    return await chat.begin(user_id=user_id, text=payload["message"], conversation_id=conversation_id,
                            attachments=payload.get("attachments", ()))  # fmt: skip


async def _owned(session: AsyncSession, user_id: int, conversation_id: int) -> Conversation:
    """The user's conversation (its model and system prompt go with the turn), or ConversationNotFound."""
    conversation = await crud.get_conversation(session, user_id=user_id, conversation_id=conversation_id)
    if conversation is None:
        raise ConversationNotFound(conversation_id)
    return conversation


async def _regenerate(chat: ChatService, *, user_id: int, conversation_id: int) -> Turn:
    window = chat.settings.history_window
    try:
        async with chat.database(write=True) as session:
            conversation = await _owned(session, user_id, conversation_id)
            leaf = await tree.leaf_of(session, conversation_id)
            last = await session.get(Message, leaf) if leaf is not None else None
            if last is None:
                raise BranchRefused("There is no message to reply to in this conversation.")
            alternative = None
            if last.role == "assistant":
                if last.parent_id is None:
                    raise BranchRefused("There is no message to reply to before that reply.")
                alternative, prompt = last.id, last.parent_id
                await tree.set_leaf(session, conversation_id, prompt)  # the new reply is the old one's sibling
            else:
                prompt = last.id
            history = await tree.recent_path(session, start=prompt, limit=window)
            await session.commit()
            parts = await attachment_store.parts_of(session, [m.id for m in history])
    except RowGone:
        raise ConversationNotFound(conversation_id) from None
    return Turn(conversation_id=conversation_id, user_message_id=prompt, history=_history(history), parts=parts,
                alternative_to=alternative, model=conversation.model,
                system_prompt=conversation.system_prompt)  # fmt: skip


async def _edit(chat: ChatService, *, user_id: int, conversation_id: int, message_id: int | None, text: str) -> Turn:
    window = chat.settings.history_window
    try:
        async with chat.database(write=True) as session:
            conversation = await _owned(session, user_id, conversation_id)
            old = await session.scalar(
                select(Message).where(Message.id == message_id, Message.conversation_id == conversation_id)
            )
            if old is None or old.role != "user":
                raise BranchRefused("Only your own messages in this conversation can be edited.")
            now = utcnow()
            new = Message(conversation_id=conversation_id, role="user", content=text, status="complete", timestamp=now)
            session.add(new)
            await session.flush()
            await tree.attach(session, conversation_id=conversation_id, message_id=new.id, parent_id=old.parent_id)
            history = await tree.recent_path(session, start=new.id, limit=window)
            new_id = new.id
            await session.commit()
            parts = await attachment_store.parts_of(session, [m.id for m in history])
    except RowGone:
        raise ConversationNotFound(conversation_id) from None
    return Turn(conversation_id=conversation_id, user_message_id=new_id, history=_history(history), parts=parts,
                model=conversation.model, system_prompt=conversation.system_prompt)  # fmt: skip


async def settle(chat: ChatService, turn: Turn) -> None:
    """After a regenerate's reply: one that got no row (no text, not complete) gives the
    path back to the reply it would have been a new version of."""
    if turn.alternative_to is None or turn.message_id is not None:
        return
    try:
        async with chat.database(write=True) as session:
            if await tree.leaf_of(session, turn.conversation_id) != turn.user_message_id:
                return  # the path moved on meanwhile
            if await session.get(Message, turn.alternative_to) is not None:
                leaf = await tree.continuation(session, turn.alternative_to)
                await tree.set_leaf(session, turn.conversation_id, leaf)
                await session.commit()
    except (DatabaseUnavailable, RowGone):
        log.warning(
            "could not give the path back after an empty reply", extra={"conversation_id": turn.conversation_id}
        )
