"""Where the server keeps replies: the turn engine's ReplyStore over its database.

The save policy, as clients see it: a reply's row (status `partial`) appears as soon as
it has text, is rewritten while it streams (the engine offers its text at most every
REPLY_SAVE_INTERVAL), then once more with the outcome. A failed intermediate save does
not stop the stream; a failed final one is a ReplyNotSaved, so a client is never told
"complete" about a reply that is not stored. A reply with no text that did not complete
leaves no row.

A server streams hundreds of replies at once: one `ProgressSaver` per server writes
every reply's offered text in one transaction, at most one transaction in flight and
then a pause of BATCH_GAP_S, instead of one commit per reply per interval. Texts
offered meanwhile replace older ones, so under load replies are saved less often and
the database stays free for prompts. Final saves go through it too, without the pause:
the replies that end while a transaction is in flight are stored together by the next one
(one commit for many, not one each; SQLite has one writer at a time anyway). One
`TurnReplies` per turn is the ReplyStore the engine writes through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from codhechat.errors import StorageError
from codhechat.models import Message, MessageStatus
from codhechat.server import crud
from codhechat.server.db import DatabaseUnavailable
from codhechat.server.models import utcnow
from codhechat.turn import Ending

log = logging.getLogger("codhechat.server.chat")

BATCH_GAP_S = 0.2  # between two transactions of replies in progress

Database = Callable[..., AbstractAsyncContextManager[Any]]  # ChatService.transaction(): a connection, committed


class RowGone(Exception):
    """A write referred to a conversation (or message) that was deleted meanwhile."""


class ReplyNotSaved(StorageError):
    """The reply streamed, but storing it failed: the client must be told so."""

    def __init__(self, reason: str, *, unavailable: bool) -> None:
        super().__init__(reason)
        self.detail = f"The reply was not saved: {reason}."
        self.unavailable = unavailable  # True: the database (try again); False: the conversation is gone


class NothingKept(StorageError):
    """The reply ended with no text and did not complete: there is no row to store."""


@dataclass(eq=False, slots=True)
class Turn:
    conversation_id: int
    user_message_id: int
    history: Sequence[Message] = field(default_factory=tuple)  # what the model sees, the prompt last
    parts: Mapping[int, Sequence[dict[str, Any]]] = field(default_factory=dict)  # message id -> its files' parts
    text: str = ""
    status: str = "complete"
    message_id: int | None = None  # the reply's row, once it has one (it follows user_message_id)
    alternative_to: int | None = None  # a reply this one is a new version of (server/branching.py)
    # The conversation's own model and system prompt (None: the server's), and, once the
    # reply ends, the model that answered and the usage it reported (extension "tokens").
    model: str | None = None
    system_prompt: str | None = None
    answered_by: str | None = None
    usage: tuple[int, int] | None = None


@dataclass(eq=False, slots=True)
class Final:
    """A finished reply's last save, waiting for the saver's next transaction."""

    content: str
    status: str
    extra: dict[str, object]
    done: asyncio.Future[None]

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


Batch = tuple[list[tuple[Turn, str]], list[tuple[Turn, "Final"]]]  # progress (turn, text), finals


def _one(batch: list[tuple[Turn, str]], finals: list[tuple[Turn, Final]]) -> Batch:
    return batch, finals


class ProgressSaver:
    """Replies in progress, saved together (see the module docstring); and finished
    replies' last saves: they go in the next transaction without waiting for the gap, so
    under load many replies end with one commit instead of one each."""

    def __init__(self, database: Database, *, gap: float = BATCH_GAP_S) -> None:
        self.database = database
        self.gap = gap
        self._pending: dict[Turn, str] = {}  # the newest text offered by each turn
        self._finals: dict[Turn, Final] = {}
        self._final_due = asyncio.Event()  # a final is waiting: no gap
        self._writing: set[Turn] = set()  # in the transaction now in flight
        self._written: asyncio.Future[None] | None = None  # done when that transaction is
        self._task: asyncio.Task[None] | None = None

    def offer(self, turn: Turn, text: str) -> None:
        self._pending[turn] = text
        self._start()

    async def finish(self, turn: Turn, content: str, status: str, extra: dict[str, object]) -> None:
        """Store a finished reply (its row made if it has none yet); raise RowGone or
        DatabaseUnavailable as its own transaction would. Call after `settle(turn)`."""
        final = Final(content, status, extra, asyncio.get_running_loop().create_future())
        self._finals[turn] = final
        self._final_due.set()
        self._start()
        await asyncio.shield(final.done)

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def settle(self, turn: Turn) -> None:
        """Take back `turn`'s offer, and wait for its text being written, if it is: the
        final save comes after (it may need the row's id; it must not be overwritten)."""
        self._pending.pop(turn, None)
        while turn in self._writing and self._written is not None:
            await asyncio.shield(self._written)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for final in self._finals.values():
            final.fail(DatabaseUnavailable("the server is stopping"))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending or self._finals:
                self._written = loop.create_future()
                try:
                    await self._write(self._take_all)
                except Exception:
                    log.exception("could not save replies")
                finally:
                    self._writing = set()
                    self._written.set_result(None)
                if not self._finals:
                    try:
                        async with asyncio.timeout(self.gap):
                            await self._final_due.wait()
                    except TimeoutError:
                        pass
        finally:
            self._task = None
            for final in self._finals.values():  # cancelled (close): nobody will write them
                final.fail(DatabaseUnavailable("the server is stopping"))

    def _take_all(self) -> Batch:
        """All that waits, taken once the transaction has begun (on SQLite: once it is this
        process's writer), so what arrived while it waited for its turn goes in too."""
        batch, self._pending = list(self._pending.items()), {}
        finals, self._finals = list(self._finals.items()), {}
        self._final_due.clear()
        self._writing = {turn for turn, _ in batch} | {turn for turn, _ in finals}
        return batch, finals

    async def _write(self, take: Callable[[], Batch]) -> None:
        batch: list[tuple[Turn, str]] = []
        finals: list[tuple[Turn, Final]] = []
        taken = False
        try:
            async with self.database() as conn:
                (batch, finals), taken = take(), True
                new = [(turn, text, "partial") for turn, text in batch if turn.message_id is None]
                new += [(turn, f.content, f.status) for turn, f in finals if turn.message_id is None]
                changed = [(turn.message_id, text, "partial") for turn, text in batch if turn.message_id is not None]
                ids = await crud.save_replies(
                    conn, new=[(turn.conversation_id, text, status) for turn, text, status in new], changed=changed,
                    parents=[turn.user_message_id for turn, _, _ in new],
                )  # fmt: skip
                made = {turn: message_id for (turn, _, _), message_id in zip(new, ids, strict=True)}
                rows = [(turn.message_id or made[turn], f.content, f.status, f.extra) for turn, f in finals]
                if rows and not await crud.finish_replies(conn, rows):
                    raise RowGone()
        except RowGone as gone:  # a conversation was deleted meanwhile: the others one by one
            if len(batch) + len(finals) > 1:
                for item in batch:
                    await self._write(partial(_one, [item], []))
                for each in finals:
                    await self._write(partial(_one, [], [each]))
            else:
                for _, final in finals:
                    final.fail(gone)
            return
        except Exception as exc:
            if not taken:  # failed before the batch was taken: it fails (progress: until the next offer)
                batch, finals = take()
            for _, final in finals:
                final.fail(exc)
            if not isinstance(exc, DatabaseUnavailable):
                raise
            if batch:
                log.warning("could not save replies in progress", extra={"replies": len(batch)})
            return
        for turn, message_id in made.items():
            turn.message_id = message_id
        for _, final in finals:
            if not final.done.done():
                final.done.set_result(None)


class TurnReplies:
    """The ReplyStore of one turn: its row is `turn.message_id`, made at its first save."""

    def __init__(self, saver: ProgressSaver, turn: Turn) -> None:
        self.saver = saver
        self.turn = turn
        self._ending: asyncio.Future[None] | None = None

    async def start_reply(self, conversation_id: int, *, model: str) -> int:
        return 0  # no row yet: the first text makes it (a reply that never has text leaves none)

    async def save_progress(self, message_id: int, content: str) -> None:
        self.saver.offer(self.turn, content)

    async def end_reply(self, ending: Ending) -> Message:
        turn = self.turn
        turn.status = str(ending.status)
        turn.answered_by, turn.usage = ending.model, ending.usage
        extra: dict[str, object] = {"model": ending.model}
        if ending.usage is not None:
            extra["prompt_tokens"], extra["completion_tokens"] = ending.usage
        await self.saver.settle(turn)
        if turn.message_id is None and not ending.content and ending.status is not MessageStatus.COMPLETE:
            raise NothingKept("nothing arrived")
        try:
            await self.saver.finish(turn, ending.content, turn.status, extra)
        except DatabaseUnavailable:
            raise self._not_saved("the database is unavailable; ask again shortly", unavailable=True) from None
        except RowGone:
            raise self._not_saved("the conversation was deleted meanwhile", unavailable=False) from None
        assert turn.message_id is not None  # made by the saver's transaction, if not before
        usage = ending.usage or (None, None)
        return Message(
            id=turn.message_id, conversation_id=turn.conversation_id, role="assistant",
            content=ending.content, created_at=utcnow(), status=ending.status, model=ending.model,
            prompt_tokens=usage[0], completion_tokens=usage[1],
        )  # fmt: skip

    def _not_saved(self, reason: str, *, unavailable: bool) -> ReplyNotSaved:
        if self.turn.status != "complete":  # a failure is what the client hears; this goes to the log
            log.warning("could not store the reply", extra={"conversation_id": self.turn.conversation_id,
                                                            "reason": reason})  # fmt: skip
        return ReplyNotSaved(reason, unavailable=unavailable)

    def end_reply_now(self, ending: Ending) -> None:
        """The turn stopped (cancelled, or the client left): store what arrived in a task
        of its own, which `settled()` waits for before anyone is told."""
        self._ending = asyncio.ensure_future(self._end_quietly(ending))

    async def _end_quietly(self, ending: Ending) -> None:
        try:
            await self.end_reply(ending)
        except StorageError:
            pass

    async def settled(self) -> None:
        if self._ending is not None:
            await asyncio.shield(self._ending)

    async def discard_reply(self, message_id: int) -> None:
        raise NotImplementedError("the server neither retries nor regenerates in place")
