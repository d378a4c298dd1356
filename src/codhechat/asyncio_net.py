"""The sockets under both model-stream readers: an httpcore network backend on plain asyncio,
whose reads are paced by whoever shows the text (codhechat.read_pace).

One definition for both: `codhechat serve` (server/model_net.py, under httpcore) and the local
client (model_reads.py, under httpcore2, the openai SDK's transport). Their network backends
are a documented extension point with the same interface; only the exceptions they expect
differ, so a backend is made for one of them (`AsyncioBackend(httpcore)`).

Why not their default, anyio's: every read of a streaming response opens and closes a cancel
scope for its timeout and starts and stops the socket's reading (an epoll register and
unregister), and every request checks each idle pooled connection with a `select()` call. At
one read per model token that was about a fifth of the server's CPU. Here a connection is an
`asyncio.Protocol` that reads all the time into a buffer (pausing only when a megabyte waits),
a read that finds data returns at once, and a read's timeout is one timer per connection that
is re-armed lazily (it fires, sees that data came meanwhile, and waits the rest), not one per
read.

Paced reads: a model streams one Server-Sent Event per token, and parsing each as it lands
wakes the whole reading stack (HTTP/1.1 parser, SSE decoder, JSON) once a token, though the
screen (or the server's WebSocket frames) shows new text ten or twenty times a second. So a
read first waits until the text can next be shown (`read_pace`), and then takes all that came
meanwhile in one go. Two things end that wait early, since waiting on them would only show
them late: the end of the body (the last chunk of a chunked body, `BODY_END`, or the
connection closed), so the end of a reply is parsed as it lands, not up to a frame later; and a
backlog (`BACKLOG_BYTES`: a burst from a fast provider, read as fast as it can be decoded).
On anyio's sockets a waiting read could not see them coming, so the local client read every
50 ms to keep a reply's end that close to its last byte; now it reads once a frame and the end
1-2 ms after it lands (bench/model_reads.py).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from types import ModuleType
from typing import Any, cast

from codhechat.read_pace import read_pace

__all__ = ["BACKLOG_BYTES", "BODY_END", "AsyncioBackend"]

_PAUSE_AT = 1 << 20  # bytes waiting before the socket stops being read
BODY_END = b"0\r\n\r\n"  # a chunked body's last chunk, without trailers (RFC 9112, 7.1)
BACKLOG_BYTES = 16 * 1024  # waiting, they are read at once: more than a frame's worth of a steady stream


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None  # a read waiting for any data
        self.holder: asyncio.Future[None] | None = None  # a paced read waiting for `worth_reading`
        self.paused = False
        self.writable: asyncio.Future[None] | None = None  # set while the peer does not read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= _PAUSE_AT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        if self.waiter is not None:
            _resolve(self.waiter)
        if self.holder is not None and self.worth_reading():
            _resolve(self.holder)

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        if self.writable is not None:
            _resolve(self.writable)

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None:
            _resolve(self.writable)
        self.writable = None

    def worth_reading(self) -> bool:
        """Whether what waits is worth reading now, whatever the pace: the body's end, the
        connection's, or a backlog."""
        buffer = self.buffer
        return self.eof or len(buffer) >= BACKLOG_BYTES or buffer.endswith(BODY_END)

    async def hold(self, seconds: float) -> None:
        """Wait `seconds`, or less if what arrives meanwhile is `worth_reading`."""
        loop = asyncio.get_running_loop()
        self.holder = holder = loop.create_future()
        timer = loop.call_later(seconds, _resolve, holder)
        try:
            await holder
        finally:
            timer.cancel()
            self.holder = None

    def _wake(self) -> None:
        for waiter in (self.waiter, self.holder):
            if waiter is not None:
                _resolve(waiter)


class _Stream:
    """An httpcore (or httpcore2) AsyncNetworkStream over a `_Connection`."""

    def __init__(self, transport: asyncio.Transport, connection: _Connection, errors: ModuleType) -> None:
        self._transport, self._connection, self._errors = transport, connection, errors
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        pace = read_pace.get()
        if pace is not None and not connection.worth_reading() and (wait := pace()) > 0:
            await connection.hold(wait)  # what arrives meanwhile is parsed in one go
        if not connection.buffer and not connection.eof:
            connection.waiter = waiter = self._loop.create_future()
            if timeout is not None:
                self._deadline = deadline = self._loop.time() + timeout
                if self._timer is not None and self._timer.when() > deadline:
                    self._timer.cancel()
                    self._timer = None
                if self._timer is None:  # one timer, re-armed when it fires early (see _check)
                    self._timer = self._loop.call_at(deadline, self._check)
            try:
                await waiter
            except TimeoutError:
                raise self._errors.ReadTimeout("The model endpoint went silent.") from None
            finally:
                connection.waiter = None
        buffer = connection.buffer
        if buffer:
            data = bytes(buffer[:max_bytes]) if len(buffer) > max_bytes else bytes(buffer)
            del buffer[: len(data)]
            if connection.paused and len(buffer) < _PAUSE_AT // 2:
                connection.paused = False
                self._transport.resume_reading()
            return data
        if connection.error is not None:
            raise self._errors.ReadError(str(connection.error) or type(connection.error).__name__)
        return b""

    def _check(self) -> None:
        self._timer = None
        waiter = self._connection.waiter
        if waiter is None or waiter.done():
            return
        if self._loop.time() >= self._deadline:
            waiter.set_exception(TimeoutError())
        else:
            self._timer = self._loop.call_at(self._deadline, self._check)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise self._errors.WriteError("The connection to the model endpoint is closed.")
        self._transport.write(buffer)
        if (writable := self._connection.writable) is not None:
            try:
                async with asyncio.timeout(timeout):
                    await writable
            except TimeoutError:
                raise self._errors.WriteTimeout("The model endpoint does not read the request.") from None

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> _Stream:
        errors = self._errors
        try:
            async with asyncio.timeout(timeout):
                tls = await self._loop.start_tls(self._transport, self._connection, ssl_context,
                                                 server_hostname=server_hostname)  # fmt: skip
        except TimeoutError:
            self._transport.close()
            raise errors.ConnectTimeout("The TLS handshake with the model endpoint timed out.") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise errors.ConnectError(str(exc)) from exc
        if tls is None:
            raise errors.ConnectError("The TLS handshake with the model endpoint failed.")
        self._connection.transport = tls
        return _Stream(tls, self._connection, errors)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # a pooled connection the endpoint has closed, or that has bytes unasked for
            return self._connection.eof or bool(self._connection.buffer) or self._transport.is_closing()
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend:
    """An httpcore AsyncNetworkBackend; `errors` is the module (httpcore or httpcore2) whose
    exceptions its callers expect."""

    def __init__(self, errors: ModuleType) -> None:
        self._errors = errors

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _Stream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_connection(
                    _Connection, host, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError:
            raise self._errors.ConnectTimeout(f"Connecting to {host}:{port} timed out.") from None
        except OSError as exc:
            raise self._errors.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Stream(transport, connection, self._errors)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> _Stream:
        raise self._errors.ConnectError("Unix sockets are not used for the model endpoint.")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
