"""One chat turn, shared by `/chat/completions` and `/ws`: store the prompt, then run the
shared turn engine (codhechat.turn: prompt assembly, streaming, throttled saves, final
status) with the server's database as its ReplyStore (server/replies.py).

No database connection is held while the model streams: the prompt is one transaction
(the conversation, the message, the history the model sees), the reply's saves are
batched across replies, and its final save is one more. Database failures leave this
module as `DatabaseUnavailable` (try again) or, for the reply itself, `ReplyNotSaved`,
so a client is never told "complete" about a reply that is not stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from codhechat.context import Calibration
from codhechat.errors import ModelError
from codhechat.llm import ModelClient
from codhechat.models import Message, ReplyDelta, ReplyFailed, title_for
from codhechat.server import attachment_store, crud, upstream
from codhechat.server.db import DatabaseUnavailable, is_conflict, is_database_failure
from codhechat.server.models import utcnow
from codhechat.server.replies import ProgressSaver, ReplyNotSaved, RowGone, Turn, TurnReplies
from codhechat.server.schemas import text_problem
from codhechat.server.settings import ServerSettings
from codhechat.turn import TurnPlan, run_turn

__all__ = ["BUSY", "NO_MODEL", "ChatService", "ConversationNotFound", "InvalidMessage", "ReplyNotSaved", "Turn",
           "validate_message"]  # fmt: skip

log = logging.getLogger("codhechat.server.chat")

NO_MODEL = "No model is configured on this server (set OPENAI_API_KEY or OPENAI_BASE_URL)."
BUSY = "The server's database is unavailable; try again shortly."


class ConversationNotFound(Exception):
    pass


class InvalidMessage(ValueError):
    pass


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


class ChatService:
    def __init__(self, *, settings: ServerSettings, sessions: async_sessionmaker[Any], model: ModelClient) -> None:
        self.settings = settings
        self.sessions = sessions
        self.model = model
        self._engine: AsyncEngine = sessions.kw["bind"]
        self.progress = ProgressSaver(self.transaction)  # replies in progress, saved together
        self.calibration = Calibration()
        self._sqlite = settings.async_database_url.startswith("sqlite")
        self._sqlite_writer = asyncio.Lock()
        self._failing_until = 0.0

    @asynccontextmanager
    async def database(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A short session; the database's failures leave it as DatabaseUnavailable / RowGone.

        On SQLite a `write` session first takes this process's write lock: SQLite lets one
        writer in at a time, and writers queued here cost nothing, while writers queued in
        SQLite's busy handler sleep and retry (hundreds of them made every reply wait)."""
        async with self._failures(), self._write_turn(write), self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncConnection]:
        """As `database`, but a bare connection in a transaction, committed at the end: the
        turn's Core statements (crud.start_turn, save_replies, update_message, and the
        tree's and attachments' helpers they go with) need no ORM session around them."""
        async with self._failures(), self._write_turn(write), self._engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _failures(self) -> AsyncIterator[None]:
        """The database's failures as DatabaseUnavailable / RowGone."""
        try:
            yield
        except (ConversationNotFound, RowGone):
            raise
        except Exception as exc:
            if is_conflict(exc):
                raise RowGone() from exc
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
                if is_database_failure(exc) and not is_conflict(exc):  # a deleted row is no outage
                    self._failing_until = time.monotonic() + 1.0
                raise

    async def close(self) -> None:
        await self.progress.close()

    async def begin(
        self, *, user_id: int, text: str, conversation_id: int | None, attachments: Sequence[int] = ()
    ) -> Turn:
        """Store the user's message (in a new conversation named after it when id is None)
        with the files it carries (uploaded before: AttachmentsRefused if they are not the
        user's), and read the history the model will see with its files' content parts."""
        parts: dict[int, list[dict[str, Any]]] = {}
        try:
            async with self.transaction() as conn:  # one transaction, committed at its end
                await attachment_store.check_unsent(conn, user_id=user_id, ids=attachments)
                started = await crud.start_turn(
                    conn, user_id=user_id, conversation_id=conversation_id, name=title_for(text),
                    content=text, history=self.settings.history_window,
                )  # fmt: skip
                if started is not None:
                    await attachment_store.link(conn, user_id=user_id, message_id=started[1], ids=attachments)
                    # Only messages that can carry files: the prompt if it names some, and the
                    # history (none in a new conversation: then no SELECT at all, ~1 ms a turn).
                    carrying = [started[1]] if attachments else []
                    parts = await attachment_store.parts_of(conn, [*carrying, *(m.id for m in started[2])])
        except RowGone:  # deleted between the read and the write
            raise ConversationNotFound(conversation_id) from None
        if started is None:
            raise ConversationNotFound(conversation_id)
        conversation_id, message_id, earlier, (model, system_prompt) = started
        history = [
            Message(id=m.id, conversation_id=m.conversation_id, role=m.role, content=m.content,
                    created_at=m.timestamp)
            for m in earlier
        ]  # fmt: skip
        history.append(Message(id=message_id, conversation_id=conversation_id, role="user", content=text,
                               created_at=utcnow()))  # fmt: skip
        return Turn(conversation_id=conversation_id, user_message_id=message_id, history=history, parts=parts,
                    model=model, system_prompt=system_prompt)  # fmt: skip

    async def reply(self, turn: Turn, on_delta: Callable[[str], Awaitable[None]]) -> Turn:
        """Stream the reply into `turn.text`, calling `on_delta` per piece; always keep what came.

        A ModelError propagates after the partial text is stored with status `error`; a
        cancellation or a failing `on_delta` (the client went away) stores it as `partial`;
        a final save that fails raises ReplyNotSaved instead of returning.
        """
        store = TurnReplies(self.progress, turn)
        plan = TurnPlan(
            conversation_id=turn.conversation_id,
            model=turn.model if turn.model in self.settings.models else self.settings.model_name,
            system_prompt=turn.system_prompt or self.settings.system_prompt, history=turn.history, window=None,
            reasoning=False, parts=turn.parts,
        )  # fmt: skip
        events = run_turn(self.model, store, plan, calibration=self.calibration,
                          save_interval=self.settings.reply_save_interval, save_first=True)  # fmt: skip
        failure: Exception | None = None
        try:
            async with aclosing(events):
                async for event in events:
                    if type(event) is ReplyDelta:
                        turn.text += event.text
                        await on_delta(event.text)
                    elif isinstance(event, ReplyFailed):
                        failure = event.error
        except BaseException:
            await store.settled()  # the partial reply is stored before anyone is told
            raise
        if isinstance(failure, ModelError):
            log.warning(
                "model failed",
                extra={"conversation_id": turn.conversation_id, "error": upstream.log_detail(failure)},
            )
        if failure is not None:
            raise failure
        return turn

    def public_error(self, exc: ModelError) -> str:
        """The model error for a client: a fixed cause, nothing the endpoint said."""
        return upstream.public_cause(exc, timeout=self.settings.model_timeout)
