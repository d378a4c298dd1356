"""One chat turn, shared by `/chat/completions` and `/ws`: store the prompt, stream the
model's reply through the shared ModelClient, and keep the reply as it grows.

No database connection is held while the model streams: every write opens a session,
does its statement and gives the connection back. Database failures leave this module
as `DatabaseUnavailable` (try again) or, for the reply itself, `ReplyNotSaved`, so a
client is never told "complete" about a reply that is not stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from codhechat.errors import ModelError
from codhechat.llm import ModelClient
from codhechat.models import title_for
from codhechat.server import crud, upstream
from codhechat.server.db import DatabaseUnavailable, is_conflict, is_database_failure
from codhechat.server.models import Conversation
from codhechat.server.schemas import text_problem
from codhechat.server.settings import ServerSettings

log = logging.getLogger("codhechat.server.chat")

NO_MODEL = "No model is configured on this server (set OPENAI_API_KEY or OPENAI_BASE_URL)."
BUSY = "The server's database is unavailable; try again shortly."


class ConversationNotFound(Exception):
    pass


class InvalidMessage(ValueError):
    pass


class _RowGone(Exception):
    """A write referred to a conversation (or message) that was deleted meanwhile."""


class ReplyNotSaved(Exception):
    """The reply streamed, but storing it failed: the client must be told so."""

    def __init__(self, reason: str, *, unavailable: bool) -> None:
        super().__init__(reason)
        self.detail = f"The reply was not saved: {reason}."
        self.unavailable = unavailable  # True: the database (try again); False: the conversation is gone


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
    if problem := text_problem(text):
        raise InvalidMessage(f"message {problem}")
    return text


class ReplyRecorder:
    """The save policy for a streaming reply, as local mode has it: a row (status
    `partial`) as soon as text arrives, rewritten at most every `interval` seconds while
    it streams, then once more with the outcome. A failed intermediate save does not
    stop the stream; a failed final one is a ReplyNotSaved.

    Unlike local mode, a server streams hundreds of replies at once, and SQLite writes
    one at a time: intermediate saves take one of a few `save_slots`, and a reply that
    finds them all taken, or SQLite's writer busy, skips that save (it tries again at
    its next piece). Under load replies are saved less often, and the database stays
    free for prompts and final saves.
    """

    def __init__(self, service: ChatService, turn: Turn, *, interval: float) -> None:
        self.service = service
        self.turn = turn
        self.interval = interval
        self._next_save = 0.0  # monotonic time; 0: at the first text

    async def progress(self) -> None:
        slots = self.service.save_slots
        if time.monotonic() < self._next_save or slots.locked() or self.service.busy_writing():
            return
        async with slots:
            try:
                await self._write("partial")
            except (DatabaseUnavailable, _RowGone):
                log.warning("could not save a reply in progress", extra={"conversation_id": self.turn.conversation_id})
            finally:  # saved or not, the next try waits an interval (the end saves anyway)
                self._next_save = time.monotonic() + self.interval

    async def finish(self, status: str) -> None:
        self.turn.status = status
        if not self.turn.text and status != "complete":
            return  # nothing arrived: nothing to keep
        try:
            await self._write(status)
        except DatabaseUnavailable:
            raise ReplyNotSaved("the database is unavailable; ask again shortly", unavailable=True) from None
        except _RowGone:
            raise ReplyNotSaved("the conversation was deleted meanwhile", unavailable=False) from None

    async def _write(self, status: str) -> None:
        turn, text = self.turn, self.turn.text
        async with self.service.database(write=True) as session:
            if turn.message_id is None:
                message = await crud.add_message(
                    session, conversation_id=turn.conversation_id, role="assistant",
                    content=text, status=status,
                )  # fmt: skip
                turn.message_id = message.id
            elif not await crud.update_message(session, message_id=turn.message_id, content=text, status=status):
                raise _RowGone(turn.message_id)


class ChatService:
    def __init__(
        self, *, settings: ServerSettings, sessions: async_sessionmaker[Any], model: ModelClient
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.model = model
        # Intermediate saves waiting on the database at once (see ReplyRecorder).
        self.save_slots = asyncio.Semaphore(max(1, settings.db_pool_size // 2))
        self._sqlite = settings.async_database_url.startswith("sqlite")
        self._sqlite_writer = asyncio.Lock()
        self._failing_until = 0.0

    @asynccontextmanager
    async def database(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A short session; the database's failures leave it as DatabaseUnavailable / _RowGone.

        On SQLite a `write` session first takes this process's write lock: SQLite lets one
        writer in at a time, and writers queued here cost nothing, while writers queued in
        SQLite's busy handler sleep and retry (hundreds of them made every reply wait)."""
        try:
            async with self._write_turn(write), self.sessions() as session:
                yield session
        except (ConversationNotFound, _RowGone):
            raise
        except Exception as exc:
            if is_conflict(exc):
                raise _RowGone() from exc
            if is_database_failure(exc) or isinstance(exc, TimeoutError):
                log.warning("database unavailable", extra={"error": type(exc).__name__})
                raise DatabaseUnavailable(BUSY) from exc
            raise

    @asynccontextmanager
    async def _write_turn(self, write: bool) -> AsyncIterator[None]:
        """SQLite: one writer at a time, in arrival order. Waiting in this line is not an
        outage (a burst of replies ends in a burst of saves); the database failing is,
        and then the writers in line fail at once for a moment instead of one by one."""
        if not (write and self._sqlite):
            yield
            return
        async with self._sqlite_writer:
            if time.monotonic() < self._failing_until:
                raise DatabaseUnavailable(BUSY)
            try:
                yield
            except Exception as exc:
                if is_database_failure(exc):
                    self._failing_until = time.monotonic() + 1.0
                raise

    def busy_writing(self) -> bool:
        """Other writes are waiting: an optional one (a save in progress) should skip."""
        return self._sqlite and self._sqlite_writer.locked()

    async def begin(self, *, user_id: int, text: str, conversation_id: int | None) -> Turn:
        """Store the user's message (in a new conversation named after it when id is None)."""
        try:
            async with self.database(write=True) as session:
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
        except _RowGone:  # deleted between the read and the write
            raise ConversationNotFound(conversation_id) from None

    async def _history(self, conversation_id: int) -> list[dict[str, str]]:
        async with self.database() as session:
            recent = await crud.recent_messages(
                session, conversation_id=conversation_id, limit=self.settings.history_window
            )
        history = [{"role": "system", "content": self.settings.system_prompt}]
        history += [{"role": m.role, "content": m.content} for m in recent if m.content]
        return history

    async def reply(self, turn: Turn, on_delta: Callable[[str], Awaitable[None]]) -> Turn:
        """Stream the reply into `turn.text`, calling `on_delta` per piece; always keep what came.

        A ModelError propagates after the partial text is stored with status `error`; a
        cancellation or a failing `on_delta` (the client went away) stores it as `partial`;
        a final save that fails raises ReplyNotSaved instead of returning.
        """
        recorder = ReplyRecorder(self, turn, interval=self.settings.reply_save_interval)
        try:
            history = await self._history(turn.conversation_id)
            stream = self.model.stream_chat(history, model=self.settings.model_name)
            async with aclosing(stream):
                async for piece in stream:
                    turn.text += piece
                    await on_delta(piece)
                    await recorder.progress()
        except ModelError as exc:
            log.warning(
                "model failed",
                extra={"conversation_id": turn.conversation_id, "error": upstream.log_detail(exc)},
            )
            await self._finish_quietly(recorder, "error")
            raise
        except BaseException:
            await self._finish_quietly(recorder, "partial")
            raise
        await recorder.finish("complete")
        return turn

    async def _finish_quietly(self, recorder: ReplyRecorder, status: str) -> None:
        """Keep what arrived on the way out of a failure; the failure itself is what the client hears."""
        try:
            await asyncio.shield(recorder.finish(status))
        except ReplyNotSaved as exc:
            log.warning(
                "could not store the reply",
                extra={"conversation_id": recorder.turn.conversation_id, "reason": str(exc)},
            )

    def public_error(self, exc: ModelError) -> str:
        """The model error for a client: a fixed cause, nothing the endpoint said."""
        return upstream.public_cause(exc, timeout=self.settings.model_timeout)
