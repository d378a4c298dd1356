"""Extensions "pin", "conversation_options" and "models": a conversation's pin, its own
model (one of the server's allow-list: MODEL_NAME and ALLOWED_MODELS) and system prompt."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from codhechat.protocol.conversation_ext import ConversationOptions, ModelList, PinUpdate
from codhechat.server import crud_ext
from codhechat.server.deps import Ctx, CurrentUser, SessionDep
from codhechat.server.routes.conversations import ConversationId, _owned
from codhechat.server.schemas import ConversationSummary, text_problem

router = APIRouter(tags=["extensions"])


@router.get("/models")
async def list_models(user: CurrentUser, ctx: Ctx) -> ModelList:
    """The models a conversation may choose, the server's default first."""
    return ModelList(default=ctx.settings.model_name, models=ctx.settings.models)


@router.put("/conversations/{conversation_id}/pin")
async def pin_conversation(
    conversation_id: ConversationId, body: PinUpdate, user: CurrentUser, session: SessionDep
) -> ConversationSummary:
    """Pinned conversations head a client's list, the latest pin first."""
    conversation = await _owned(session, user, conversation_id)
    conversation = await crud_ext.set_pinned(session, conversation=conversation, pinned=body.pinned)
    return ConversationSummary.model_validate(conversation)


@router.put("/conversations/{conversation_id}/options")
async def set_conversation_options(
    conversation_id: ConversationId, body: ConversationOptions, user: CurrentUser, session: SessionDep, ctx: Ctx
) -> ConversationSummary:
    """The model and system prompt of this conversation's next replies (null or empty: the server's)."""
    model = (body.model or "").strip() or None
    if model is not None and model not in ctx.settings.models:
        allowed = ", ".join(ctx.settings.models)
        raise HTTPException(
            status_code=422, detail=f"This server does not offer the model {model!r}; it offers: {allowed}."
        )
    system_prompt = body.system_prompt if body.system_prompt and body.system_prompt.strip() else None
    if system_prompt is not None and (problem := text_problem(system_prompt)):
        raise HTTPException(status_code=422, detail=f"The system prompt {problem}.")
    conversation = await _owned(session, user, conversation_id)
    conversation = await crud_ext.set_options(session, conversation=conversation, model=model,
                                              system_prompt=system_prompt)  # fmt: skip
    return ConversationSummary.model_validate(conversation)
