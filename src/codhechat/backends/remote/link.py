"""The link: one persistent WebSocket to the server that every reply shares, kept up by itself.

Its frames go to the requests in flight (routing.py). It always asks for
`/ws?stream=delta`; whether the server has the extensions shows in what it sends
(`started`, `delta`), so nothing is negotiated (see codhechat.protocol).

Sign-in: the token goes in an `Authorization` header; a classic server, which reads only
`?token=`, answers that with close 1008, so the link tries the query parameter once and
remembers (per server, with the token) which one works.

Reconnecting: drops -> exponential backoff with jitter, capped; 1013 (no model, or too
many sockets) -> a longer back-off; 1008 -> renew the token once, then stop and say so.
An accepted handshake is not success: a bad token is accepted, then closed, so the
backoff only resets once a connection has carried a frame or stayed up.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from codhechat.backends.remote.address import ws_url
from codhechat.backends.remote.api import ServerApi
from codhechat.backends.remote.errors import AuthError, FatalRemoteError, RemoteError, dropped_error, handshake_error
from codhechat.backends.remote.routing import Requests
from codhechat.errors import CodheError
from codhechat.models import ConnectionState
from codhechat.protocol import POLICY_VIOLATION, STREAM_DELTA, TRY_AGAIN_LATER, CancelFrame, ChatFrame
from codhechat.protocol.branches import EditFrame, RegenerateFrame

log = logging.getLogger("codhechat.remote")

ClientFrame = ChatFrame | RegenerateFrame | EditFrame  # what asks for a reply

# Whole-reply chunks grow with the reply: a 64 MiB frame holds a reply of millions of characters.
MAX_INBOUND_FRAME_BYTES = 64 * 1024 * 1024
STABLE_AFTER_S = 5.0  # a connection up this long (or that carried a frame) resets the backoff
SETTLE_S = 0.3  # while header auth is unproven, wait this long for an immediate 1008


class Link:
    """The socket, its connection state (for the status line) and the requests sent on it."""

    def __init__(self, api: ServerApi, *, connect_timeout: float, backoff_base: float, backoff_cap: float,
                 busy_backoff: float, on_extensions: Callable[[], None]) -> None:  # fmt: skip
        self.api = api
        self.server = api.server
        self.connect_timeout = connect_timeout
        self.backoff_base, self.backoff_cap, self.busy_backoff = backoff_base, backoff_cap, busy_backoff
        self.connection = ConnectionState("connecting")
        self.requests = Requests(self.notice, on_extensions)
        self.background: set[asyncio.Task[Any]] = set()  # cancel frames on their way
        self._listeners: list[Callable[[ConnectionState], None]] = []
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._attempt: asyncio.Future[None] | None = None
        self._send_lock = asyncio.Lock()
        self._accepted: tuple[str, bool] | None = None  # (token, in a header) that stayed connected
        self._closing = False

    # -- connection state, for the status line ------------------------------------------

    def watch(self, listener: Callable[[ConnectionState], None]) -> Callable[[], None]:
        """Call `listener` with every ConnectionState from now on; returns an unsubscribe."""
        self._listeners.append(listener)
        listener(self.connection)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, state: ConnectionState) -> None:
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a listener's bug must not take the link down
                log.exception("connection listener failed")

    def _set_state(self, state: ConnectionState) -> None:
        if state != self.connection:
            self.connection = state
            self.publish(state)

    def notice(self, text: str) -> None:
        self.publish(replace(self.connection, notice=text))

    # -- sending -------------------------------------------------------------------------

    def start(self) -> None:
        if not self._closing and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(), name="codhechat-remote-link")

    async def connected(self) -> ClientConnection:
        """The open socket, connecting (or cutting a backoff short) if needed."""
        if self._ws is not None and self.connection.status == "connected":
            return self._ws
        attempt = self._next_attempt()
        self.start()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(attempt), self.connect_timeout + SETTLE_S + 1)
        except TimeoutError:
            raise RemoteError(f"Could not connect to {self.server} in time.",
                              "Check your network; codhechat keeps trying.") from None  # fmt: skip
        if self._ws is None:
            raise RemoteError(f"The connection to {self.server} dropped.", "Try again.")
        return self._ws

    async def reconnect(self) -> None:
        """Connect again with the token signed in now: at once when the link gave up
        (signed out), else once the open socket (the old sign-in's) is closed."""
        ws, self._ws = self._ws, None  # not handed out again while it closes
        if ws is not None:
            self._accepted = None
            await ws.close()
        await self.connected()

    async def send(self, ws: ClientConnection, frame: ClientFrame) -> None:
        try:
            async with self._send_lock:
                await ws.send(frame.encode())
        except ConnectionClosed:
            raise RemoteError(f"The connection to {self.server} dropped; nothing was sent.", "Try again.") from None

    def cancel_later(self, request_id: str) -> None:
        """Ask the server to stop a reply (it keeps the partial text); fire and forget."""
        ws = self._ws
        if ws is None or not self.requests.extended:
            return  # a classic server has no cancel: we just stopped reading

        async def cancel() -> None:
            try:
                await ws.send(CancelFrame(request_id=request_id).encode())
            except Exception:
                pass

        task = asyncio.get_running_loop().create_task(cancel())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # -- keeping the socket up -----------------------------------------------------------

    def _next_attempt(self) -> asyncio.Future[None]:
        if self._attempt is None or self._attempt.done():
            self._attempt = asyncio.get_running_loop().create_future()
        return self._attempt

    def _settle_attempt(self, error: CodheError | None) -> None:
        attempt = self._attempt
        if attempt is not None and not attempt.done():
            if error is None:
                attempt.set_result(None)
            else:
                attempt.set_exception(error)
                attempt.exception()  # retrieved: nobody may be waiting

    async def _run(self) -> None:
        failures = 0
        renewed = False  # re-authenticated once after a 1008
        probing_with: str | None = None  # the token being tried as ?token= after a header 1008
        rejected: str | None = None
        while not self._closing:
            self._next_attempt()
            try:
                token = await self.api.token(rejected=rejected)
                rejected = None
                credentials = self.api.credentials
                use_header = credentials is None or credentials.header_auth is not False
                ws = await self.open_socket(token, use_header)
            except FatalRemoteError as exc:
                self._give_up(exc)
                return
            except CodheError as exc:
                failures += 1
                await self._backoff(failures, exc)
                continue
            code, reason, carried = await self._serve(ws, token=token, use_header=use_header)
            if self._closing:
                return
            if code == POLICY_VIOLATION and not carried:
                self._accepted = None  # refused now, whatever it was before (the server's secret changed)
                if use_header and probing_with is None:
                    probing_with = token  # a classic server reads only ?token=: try that once
                    self.api.remember_header_auth(False)
                    continue
                if probing_with is not None:  # refused both ways: the token is bad
                    self.api.remember_header_auth(None)
                    probing_with = None
                if not renewed:
                    renewed, rejected = True, token
                    continue
                self._give_up(AuthError(
                    f"{self.server} refused the sign-in (close code 1008): the token is invalid or expired.",
                    f"Sign in again: Ctrl+P, “Sign in…” (or codhechat login --server {self.server}; "
                    "or restart for a new guest).",
                ))  # fmt: skip
                return
            if carried:
                failures, renewed = 0, False
            probing_with = None
            failures += 1
            if code == TRY_AGAIN_LATER:
                error = RemoteError(
                    f"The server cannot chat right now: {reason or 'try again later'} (close code 1013).",
                    "It has no model configured, or is at its connection limit; codhechat tries again on its own.",
                )
                await self._backoff(failures, error, floor=self.busy_backoff)
            else:
                await self._backoff(failures, RemoteError(f"Lost the connection to {self.server}."))

    async def open_socket(self, token: str, use_header: bool) -> ClientConnection:
        query = {"stream": STREAM_DELTA} | ({} if use_header else {"token": token})
        headers = {"Authorization": f"Bearer {token}"} if use_header else None
        url = ws_url(self.server, **query)
        ssl_context = self.api.verify if url.startswith("wss:") and not isinstance(self.api.verify, bool) else None
        try:
            return await connect(
                url, additional_headers=headers, open_timeout=self.connect_timeout,
                max_size=MAX_INBOUND_FRAME_BYTES, ssl=ssl_context, proxy=None,
            )  # fmt: skip
        except (InvalidURI, InvalidHandshake, OSError, TimeoutError) as exc:
            raise handshake_error(self.server, exc) from None

    async def _serve(self, ws: ClientConnection, *, token: str, use_header: bool) -> tuple[int | None, str, bool]:
        """Read frames until the socket closes: (close code, reason, carried a frame or stayed up)."""
        self.requests.new_socket()
        opened = time.monotonic()
        if self._accepted != (token, use_header):  # a refused token is closed at once
            try:
                await asyncio.wait_for(asyncio.shield(ws.wait_closed()), SETTLE_S)
            except TimeoutError:
                pass
        if ws.close_code is None:
            self._accepted = (token, use_header)
            if use_header:
                self.api.remember_header_auth(True)
            self._ws = ws
            self._set_state(ConnectionState("connected"))
            self._settle_attempt(None)
            try:
                async for raw in ws:
                    self.requests.dispatch(raw)
            except ConnectionClosed:
                pass
            except Exception:
                log.exception("reading the socket failed")
            finally:
                self._ws = None
        code, reason = ws.close_code, ws.close_reason or ""
        await ws.close()
        carried = self.requests.frames_seen or time.monotonic() - opened >= STABLE_AFTER_S
        self.requests.drop(ws, dropped_error(self.server, code, reason))
        return code, reason, carried

    async def _backoff(self, failures: int, error: CodheError, *, floor: float = 0.0) -> None:
        """Exponential backoff with jitter, capped; a new prompt cuts it short."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        delay = max(floor, delay * random.uniform(0.5, 1.0))
        self._wake.clear()
        self._settle_attempt(error)
        self._set_state(ConnectionState("reconnecting", retry_at=time.monotonic() + delay, detail=error.message))
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass

    def _give_up(self, error: CodheError) -> None:
        """Stop reconnecting until the user asks for something (a prompt, Ctrl+R)."""
        self._settle_attempt(error)
        state = ConnectionState("offline", detail=error.message, signed_out=isinstance(error, AuthError))
        self._set_state(state)
        self.publish(replace(state, notice=f"{error.message} {error.hint}".strip()))

    async def aclose(self) -> None:
        self._closing = True
        if self.background:
            await asyncio.wait(list(self.background), timeout=1.0)
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
