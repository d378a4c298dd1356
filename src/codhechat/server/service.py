"""One chat turn, shared by `/chat/completions` and `/ws`: store the prompt, stream the
model's reply through the shared ModelClient, store the reply (partial ones marked)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from codhechat.errors import ModelError
from codhechat.llm import ModelClient
from codhechat.models import title_for
from codhechat.server import crud
from codhechat.server.models import Conversation
from codhechat.server.settings import ServerSettings

log = logging.getLogger("codhechat.server.chat")

NO_MODEL = "No model is configured on this server (set OPENAI_API_KEY or OPENAI_BASE_URL)."


class ConversationNotFound(Exception):
    pass


class InvalidMessage(ValueError):
    pass


@dataclass(slots=True)
class Turn:
    conversation_id: int
    user_message_id: int
    text: str = ""
    status: str = "complete"
    message_id: int | None = None


def validate_message(raw: Any, *, limit: int) -> str:
    if not isinstance(raw, str):
        raise InvalidMessage("message must be a string")
    text = raw.strip()
    if not text:
        raise InvalidMessage("message is empty")
    if len(text) > limit:
        raise InvalidMessage(f"message is longer than {limit:,} characters")
    return text


class ChatService:
    def __init__(
        self, *, settings: ServerSettings, sessions: async_sessionmaker[Any], model: ModelClient
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.model = model

    async def begin(self, *, user_id: int, text: str, conversation_id: int | None) -> Turn:
        """Store the user's message (in a new conversation named after it when id is None)."""
        async with self.sessions() as session:
            conversation: Conversation | None
            if conversation_id is None:
                conversation = await crud.create_conversation(
                    session, user_id=user_id, name=title_for(text)
                )
            else:
                conversation = await crud.get_conversation(
                    session, user_id=user_id, conversation_id=conversation_id
                )
                if conversation is None:
                    raise ConversationNotFound(conversation_id)
            message = await crud.add_message(
                session, conversation_id=conversation.id, role="user", content=text
            )
            return Turn(conversation_id=conversation.id, user_message_id=message.id)

    async def _history(self, conversation_id: int) -> list[dict[str, str]]:
        async with self.sessions() as session:
            recent = await crud.recent_messages(
                session, conversation_id=conversation_id, limit=self.settings.history_window
            )
        history = [{"role": "system", "content": self.settings.system_prompt}]
        history += [{"role": m.role, "content": m.content} for m in recent if m.content]
        return history

    async def reply(self, turn: Turn, on_delta: Callable[[str], Awaitable[None]]) -> Turn:
        """Stream the reply into `turn.text`, calling `on_delta` per piece; always store what came.

        A ModelError propagates after the partial text is stored with status `error`; a
        cancellation or a failing `on_delta` (the client went away) stores it as `partial`.
        """
        try:
            history = await self._history(turn.conversation_id)
            stream = self.model.stream_chat(history, model=self.settings.model_name)
            async with aclosing(stream):
                async for piece in stream:
                    turn.text += piece
                    await on_delta(piece)
        except ModelError as exc:
            turn.status = "error"
            log.warning(
                "model failed", extra={"conversation_id": turn.conversation_id, "error": exc.message}
            )
            await asyncio.shield(self._store(turn))
            raise
        except BaseException:
            turn.status = "partial"
            await asyncio.shield(self._store(turn))
            raise
        turn.status = "complete"
        await self._store(turn)
        return turn

    async def _store(self, turn: Turn) -> None:
        if not turn.text and turn.status != "complete":
            return  # nothing arrived: nothing to keep
        try:
            async with self.sessions() as session:
                message = await crud.add_message(
                    session,
                    conversation_id=turn.conversation_id,
                    role="assistant",
                    content=turn.text,
                    status=turn.status,
                )
                turn.message_id = message.id
        except Exception:  # the conversation was deleted meanwhile, or the database is down
            log.exception("could not store the reply", extra={"conversation_id": turn.conversation_id})

    def public_error(self, exc: ModelError) -> str:
        """The model error for a client: what happened, without the internal endpoint URL."""
        return exc.message.replace(self.model.endpoint, "the model endpoint")
