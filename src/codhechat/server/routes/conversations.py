"""Conversations and their messages, scoped to the caller (someone else's is a 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from codhechat.server import crud, tree
from codhechat.server.deps import CurrentUser, SessionDep
from codhechat.server.models import Conversation
from codhechat.server.schemas import (
    MAX_DB_INT,
    ConversationOut,
    ConversationSummary,
    ConversationUpdate,
    MessageOut,
)

router = APIRouter(prefix="/conversations", tags=["conversations"])

MAX_PAGE = 100
# Bounded by the database's INTEGER: a larger number is a 422, not a driver overflow (500).
Skip = Annotated[int, Query(ge=0, le=MAX_DB_INT)]
Limit = Annotated[int, Query(ge=1, le=MAX_DB_INT, description="Page size; more than 100 is treated as 100.")]
ConversationId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]


async def _owned(session: SessionDep, user: CurrentUser, conversation_id: int) -> Conversation:
    conversation = await crud.get_conversation(session, user_id=user.id, conversation_id=conversation_id)
    if conversation is None:
        raise HTTPException(status_code=404, detail="Conversation not found")
    return conversation


@router.get("/", response_model=list[ConversationOut] | list[ConversationSummary])
async def list_conversations(
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    skip: Skip = 0,
    limit: Limit = MAX_PAGE,
    include_messages: bool = True,
) -> list[ConversationOut] | list[ConversationSummary]:
    """Newest first. `include_messages=false` (extension) leaves out the messages;
    `X-Total-Count` gives the total, so clients can page past 100."""
    limit = min(limit, MAX_PAGE)
    rows = await crud.list_conversations(
        session, user_id=user.id, skip=skip, limit=limit, with_messages=include_messages
    )
    response.headers["X-Total-Count"] = str(await crud.count_conversations(session, user_id=user.id))
    if include_messages:  # each conversation's current path (server/tree.py), as a flat history
        shown = await tree.on_paths(session, [c.id for c in rows if c.current_leaf is not None])
        return [
            ConversationOut(id=c.id, name=c.name, created_at=c.created_at, messages=[
                MessageOut.model_validate(m) for m in c.messages if c.current_leaf is None or m.id in shown])
            for c in rows
        ]  # fmt: skip
    return [ConversationSummary.model_validate(c) for c in rows]


@router.get("/{conversation_id}")
async def read_conversation(
    conversation_id: ConversationId, user: CurrentUser, session: SessionDep
) -> ConversationSummary:
    return ConversationSummary.model_validate(await _owned(session, user, conversation_id))


@router.patch("/{conversation_id}")
async def rename_conversation(
    conversation_id: ConversationId, body: ConversationUpdate, user: CurrentUser, session: SessionDep
) -> ConversationSummary:
    conversation = await _owned(session, user, conversation_id)
    conversation = await crud.rename_conversation(session, conversation=conversation, name=body.name)
    return ConversationSummary.model_validate(conversation)


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(conversation_id: ConversationId, user: CurrentUser, session: SessionDep) -> None:
    await crud.delete_conversation(session, conversation=await _owned(session, user, conversation_id))


@router.get("/{conversation_id}/messages/")
async def list_messages(
    conversation_id: ConversationId,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    skip: Skip = 0,
    limit: Limit = MAX_PAGE,
    before: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
) -> list[MessageOut]:
    """The current path (of the conversation's tree: server/tree.py), in id order. `before`
    (extension) gives the `limit` messages just before that id."""
    await _owned(session, user, conversation_id)
    rows, total = await tree.page(
        session, conversation_id=conversation_id, skip=skip, limit=min(limit, MAX_PAGE), before=before
    )
    response.headers["X-Total-Count"] = str(total)
    return [MessageOut.model_validate(m) for m in rows]
