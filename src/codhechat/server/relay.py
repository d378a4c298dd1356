"""One reply's text to one socket, as chunk frames, coalesced.

A model streams a token every few milliseconds; a person reads nothing faster than a
screen refresh, and a frame costs the server (and the client) far more than the bytes
in it. So a socket gets at most one chunk frame per `interval` (WS_CHUNK_INTERVAL; the
replies on one socket share a `Clock`): a reply's first piece goes at once, and the
pieces that arrive before the next frame is due wait and go together in it. Whatever the timing, the frames add up to exactly the
model's text: delta frames carry the pieces since the previous frame, classic frames
the whole reply so far, and `flush()` sends what is waiting before the reply's last
frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from codhechat.protocol import ContentChunk, DeltaChunk

Send = Callable[[ContentChunk | DeltaChunk], Awaitable[None]]


class Clock:
    """When a socket's next chunk frame may go (loop time), whichever reply sends it."""

    __slots__ = ("next_at",)

    def __init__(self) -> None:
        self.next_at = 0.0


class Relay:
    def __init__(self, send: Send, *, request_id: str, conversation_id: int, delta: bool, interval: float,
                 clock: Clock | None = None) -> None:  # fmt: skip
        self._send = send
        self._request_id = request_id
        self._conversation_id = conversation_id
        self._delta = delta
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._pending: list[str] = []  # pieces not sent yet
        self._text = ""  # classic frames: the whole reply so far, sent or not
        self._clock = clock if clock is not None else Clock()
        self._first = True  # the first piece goes at once, even if another reply just sent a frame
        self._timer: asyncio.Task[None] | None = None  # sends the waiting pieces when due
        self._sleeping = False  # the timer is waiting (not sending): it may be cancelled
        self._failed: BaseException | None = None  # the timer's send failed (the client left)
        self._flushing = False  # the reply is ending: nothing waits any more

    async def add(self, piece: str) -> None:
        """Relay a piece: now, if no frame went in the last `interval`; else soon."""
        if self._failed is not None:
            raise self._failed
        self._pending.append(piece)
        if not self._delta:
            self._text += piece
        if self._timer is not None:
            return  # a frame is due: it will carry this piece
        wait = self._clock.next_at - self._loop.time()
        if wait <= 0 or self._first:
            await self._send_pending()
        else:
            self._timer = self._loop.create_task(self._later(wait))

    async def flush(self) -> None:
        """Send what is waiting, now: the reply is ending (its last frame comes next)."""
        self._flushing = True
        timer = self._timer
        if timer is not None:
            if self._sleeping:
                timer.cancel()
            await asyncio.wait({timer})
        if self._failed is not None:
            raise self._failed
        if self._pending:
            await self._send_pending()

    def close(self) -> None:
        """Drop what is waiting: the reply ends without a frame of its own (the client left)."""
        if self._timer is not None:
            self._timer.cancel()

    async def _later(self, wait: float) -> None:
        try:
            while self._pending:
                if wait > 0:
                    self._sleeping = True
                    try:
                        await asyncio.sleep(wait)
                    finally:
                        self._sleeping = False
                    wait = self._due()
                    if wait > 0:  # another reply on the socket sent a frame meanwhile: its turn was taken
                        continue
                await self._send_pending()
                wait = self._due()
        except Exception as exc:  # ClientGone: the reply hears it at its next piece or flush
            self._failed = exc
        finally:
            self._timer = None

    def idle_s(self) -> float:
        """Seconds before a frame could carry more of this reply (0 until its first has gone,
        and once it is ending): reading the model's stream before then only makes pieces that
        wait, so the stream is read then, in one go (codhechat.read_pace)."""
        return 0.0 if self._first else self._due()

    def _due(self) -> float:
        """Seconds until the socket's next frame may go (0 once the reply is ending)."""
        return 0.0 if self._flushing else self._clock.next_at - self._loop.time()

    async def _send_pending(self) -> None:
        self._first = False
        self._clock.next_at = self._loop.time() + self._interval
        if self._delta:
            text = "".join(self._pending)
            frame: ContentChunk | DeltaChunk = DeltaChunk(
                request_id=self._request_id, conversation_id=self._conversation_id, delta=text
            )
        else:
            frame = ContentChunk(request_id=self._request_id, conversation_id=self._conversation_id, content=self._text)
        self._pending.clear()
        await self._send(frame)
