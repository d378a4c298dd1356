"""Extension: a conversation's tree (protocol/branches.py): read it whole, choose the
path through a message, delete a message with what follows it. Scoped to the caller
(someone else's conversation or message is a 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from sqlalchemy import select

from codhechat.protocol.branches import BranchDeleted, BranchSwitch, MessageTree, TreeMessageOut
from codhechat.server import crud, tree
from codhechat.server.deps import CurrentUser, SessionDep
from codhechat.server.models import Conversation, Message
from codhechat.server.schemas import MAX_DB_INT

router = APIRouter(prefix="/conversations", tags=["branches"])

Id = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
GONE = "Message not found"


async def _owned(session: SessionDep, user: CurrentUser, conversation_id: int) -> Conversation:
    conversation = await crud.get_conversation(session, user_id=user.id, conversation_id=conversation_id)
    if conversation is None:
        raise HTTPException(status_code=404, detail="Conversation not found")
    return conversation


async def _message(session: SessionDep, conversation_id: int, message_id: int) -> Message:
    message = await session.scalar(
        select(Message).where(Message.id == message_id, Message.conversation_id == conversation_id)
    )
    if message is None:
        raise HTTPException(status_code=404, detail=GONE)
    return message


async def _tree(session: SessionDep, conversation_id: int) -> MessageTree:
    # The leaf first: each SELECT may see a newer database than the last (SQLite reads
    # outside a transaction), and messages are only added after their parents, so every
    # message of the leaf's path is in the list read after it.
    leaf = await tree.leaf_of(session, conversation_id)
    rows = (await session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    )).all()  # fmt: skip
    return MessageTree(current_leaf=leaf, messages=[TreeMessageOut.model_validate(m) for m in rows])


@router.get("/{conversation_id}/tree")
async def read_tree(conversation_id: Id, user: CurrentUser, session: SessionDep) -> MessageTree:
    """Every message of every branch, oldest first, each with its parent; and the current leaf."""
    await _owned(session, user, conversation_id)
    return await _tree(session, conversation_id)


@router.put("/{conversation_id}/branch")
async def switch_branch(conversation_id: Id, body: BranchSwitch, user: CurrentUser, session: SessionDep) -> MessageTree:
    """Make the path through `message_id` current, continued as it was last shown."""
    await _owned(session, user, conversation_id)
    await _message(session, conversation_id, body.message_id)
    await tree.switch(session, conversation_id=conversation_id, message_id=body.message_id)
    await session.commit()
    return await _tree(session, conversation_id)


@router.delete("/{conversation_id}/messages/{message_id}")
async def delete_branch(conversation_id: Id, message_id: Id, user: CurrentUser, session: SessionDep) -> BranchDeleted:
    """Delete a message and everything after it (a version, with its continuation)."""
    await _owned(session, user, conversation_id)
    message = await _message(session, conversation_id, message_id)
    deleted = await tree.delete_subtree(session, conversation_id=conversation_id, message=message)
    await session.commit()
    return BranchDeleted(deleted=deleted, current_leaf=await tree.leaf_of(session, conversation_id))
