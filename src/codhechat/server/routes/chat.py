"""`POST /chat/completions`: one whole reply, no streaming.

The same limits as a socket's turn: a reply lease per user (MAX_REPLIES_PER_USER) and
the conversation's turn order. A client that hangs up stops its reply: the model
stream is cancelled and what arrived is kept as `partial`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response, status

from codhechat.errors import ModelError
from codhechat.server.db import RETRY_AFTER_S, DatabaseUnavailable
from codhechat.server.deps import Ctx, CurrentUser
from codhechat.server.limits import Refused
from codhechat.server.schemas import ChatRequest, ChatResponse
from codhechat.server.service import (
    NO_MODEL,
    ConversationNotFound,
    InvalidMessage,
    ReplyNotSaved,
    Turn,
    validate_message,
)

router = APIRouter(tags=["chat"])
log = logging.getLogger("codhechat.server.chat")
T = TypeVar("T")
CLIENT_CLOSED = 499  # nginx's "client closed request": nobody reads it, the access log does


class ClientLeft(Exception):
    pass


async def _ignore(_piece: str) -> None:
    return None


async def _disconnected(request: Request) -> None:
    """Returns when the client hangs up (the body is read, so only a disconnect is left)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; cancel it (and raise ClientLeft) if the client disconnects first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done() and not watcher.done():  # we were cancelled ourselves
            task.cancel()
        watcher.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise ClientLeft
    return task.result()


def _unavailable(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail=detail,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )  # fmt: skip


@router.post("/chat/completions", response_model=ChatResponse)
async def complete(body: ChatRequest, user: CurrentUser, ctx: Ctx, request: Request) -> ChatResponse | Response:
    if not ctx.settings.model_configured:
        raise HTTPException(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail=NO_MODEL)
    try:
        text = validate_message(body.message, limit=ctx.settings.max_message_chars)
    except InvalidMessage as exc:
        raise HTTPException(status_code=422, detail=f"Invalid message: {exc}") from None
    order = ctx.limits.turn_order(user.id, body.conversation_id)  # the place is taken now
    try:
        lease = await ctx.limits.open_reply(user.id)
    except Refused as refused:
        await order.leave()
        raise HTTPException(status_code=429, detail=refused.detail, headers={"Retry-After": "1"}) from None
    except BaseException:
        await order.leave()
        raise

    async def turn() -> Turn:
        async with order:
            started = await ctx.chat.begin(user_id=user.id, text=text, conversation_id=body.conversation_id)
            await order.claim(started.conversation_id)  # a new conversation: ours until this reply ends
            return await ctx.chat.reply(started, _ignore)

    try:
        done = await unless_client_leaves(request, turn())
    except ClientLeft:
        log.info("client went away mid-reply", extra={"user_id": user.id})
        return Response(status_code=CLIENT_CLOSED)
    except ConversationNotFound:
        raise HTTPException(status_code=404, detail="Conversation not found") from None
    except ModelError as exc:
        raise HTTPException(status_code=status.HTTP_502_BAD_GATEWAY, detail=ctx.chat.public_error(exc)) from None
    except ReplyNotSaved as exc:
        if exc.unavailable:
            raise _unavailable(exc.detail) from None
        raise HTTPException(status_code=404, detail=exc.detail) from None
    except DatabaseUnavailable as exc:
        raise _unavailable(str(exc)) from None
    finally:
        await ctx.limits.release(lease)
    return ChatResponse(conversation_id=done.conversation_id, reply=done.text)
