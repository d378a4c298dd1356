"""Frames to requests: every frame is read here, once, and handed to the request it names.

One socket carries every reply, each under a fresh request id; a frame goes to the queue
of the request whose id it carries, and frames for ids we do not know are ignored, so
two conversations can generate at once and never mix. A frame that is not of the
protocol becomes a notice (when it names no request) or ends the request it names
(exchange.py words it); it never reaches a reply as text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection

from codhechat.errors import CodheError
from codhechat.protocol import DeltaChunk, ErrorFrame, FrameError, ServerFrame, StartedFrame, parse_frame

NOT_JSON = "The server sent a frame that is not valid JSON; it was ignored."
NOT_PROTOCOL = "The server sent a frame that is not of the CoDHeChat protocol; it was ignored."


class Dropped:
    """Put on a request's queue when the link goes down under it (or it waited too long)."""

    def __init__(self, error: CodheError) -> None:
        self.error = error


Inbound = ServerFrame | FrameError | Dropped  # what a request's queue holds


class Requests:
    """The requests in flight, by id, each with the socket it was sent on and its frames."""

    def __init__(self, notice: Callable[[str], None], on_extensions: Callable[[], None]) -> None:
        self.notice = notice
        self.on_extensions = on_extensions
        self.pending: dict[str, tuple[ClientConnection, asyncio.Queue[Inbound]]] = {}
        self.extended = False  # the current socket speaks the extensions (sent `started` or a delta)
        self.frames_seen = False  # the current socket carried a frame of the protocol's shape

    def register(self, request_id: str, ws: ClientConnection) -> asyncio.Queue[Inbound]:
        queue: asyncio.Queue[Inbound] = asyncio.Queue()
        self.pending[request_id] = (ws, queue)
        return queue

    def forget(self, request_id: str) -> None:
        self.pending.pop(request_id, None)

    def new_socket(self) -> None:
        self.extended = self.frames_seen = False

    def drop(self, ws: ClientConnection, error: CodheError) -> None:
        """`ws` closed: every request sent on it ends with `error`."""
        for request_id, (sent_on, queue) in list(self.pending.items()):
            if sent_on is ws:
                queue.put_nowait(Dropped(error))
                del self.pending[request_id]

    def dispatch(self, raw: str | bytes) -> None:
        """One frame from the server: to the request it names, or a notice, or nowhere."""
        try:
            frame = parse_frame(raw)
        except FrameError as bad:
            if bad.not_json:
                self.notice(NOT_JSON)
                return
            self.frames_seen = self.frames_seen or bad.frame_type is not None
            entry = self.pending.get(bad.request_id) if bad.request_id is not None else None
            if entry is not None:
                entry[1].put_nowait(bad)  # ours, but unreadable: the request ends, saying why
            elif bad.request_id is None:
                self.notice(NOT_PROTOCOL)
            return  # else: someone else's id, or a request we stopped: ignore it
        self.frames_seen = True
        request_id = frame.request_id
        if request_id is None:  # only an error frame names no request: it is about a frame of ours
            if isinstance(frame, ErrorFrame):
                self.notice(f"The server reported an error: {frame.detail or 'no detail given'}")
            return
        if not self.extended and isinstance(frame, StartedFrame | DeltaChunk):
            self.extended = True
            self.on_extensions()
        entry = self.pending.get(request_id)
        if entry is not None:  # else: someone else's id, or a request we stopped: ignore it
            entry[1].put_nowait(frame)
