"""`POST /chat/completions`: one whole reply, no streaming."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from codhechat.errors import ModelError
from codhechat.server.deps import Ctx, CurrentUser
from codhechat.server.schemas import ChatRequest, ChatResponse
from codhechat.server.service import NO_MODEL, ConversationNotFound, InvalidMessage, validate_message

router = APIRouter(tags=["chat"])


async def _ignore(_piece: str) -> None:
    return None


@router.post("/chat/completions")
async def complete(body: ChatRequest, user: CurrentUser, ctx: Ctx) -> ChatResponse:
    if not ctx.settings.model_configured:
        raise HTTPException(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail=NO_MODEL)
    try:
        text = validate_message(body.message, limit=ctx.settings.max_message_chars)
    except InvalidMessage as exc:
        raise HTTPException(status_code=422, detail=f"Invalid message: {exc}") from None
    try:
        turn = await ctx.chat.begin(user_id=user.id, text=text, conversation_id=body.conversation_id)
    except ConversationNotFound:
        raise HTTPException(status_code=404, detail="Conversation not found") from None
    try:
        await ctx.chat.reply(turn, _ignore)
    except ModelError as exc:
        raise HTTPException(
            status_code=status.HTTP_502_BAD_GATEWAY, detail=ctx.chat.public_error(exc)
        ) from None
    return ChatResponse(conversation_id=turn.conversation_id, reply=turn.text)
