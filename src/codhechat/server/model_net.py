"""The sockets under the server's model-stream reader: an httpcore network backend on plain asyncio.

httpcore's default backend is anyio's: every read of a streaming response opens and closes a
cancel scope for its timeout and starts and stops the socket's reading (an epoll register and
unregister), and every request checks each idle pooled connection with a `select()` call. At one
read per model token that was about a fifth of the server's CPU. Here a connection is an
`asyncio.Protocol` that reads all the time into a buffer (pausing only when a megabyte waits),
a read that finds data returns at once, and a read's timeout is one timer per connection that
is re-armed lazily (it fires, sees that data came meanwhile, and waits the rest), not one per
read. httpcore's `network_backend` is its documented extension point; above it, httpcore's
HTTP/1.1 connections and httpx are unchanged, and the pool is a small one of our own (_Pool).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, cast

import httpcore
import httpx

from codhechat.read_pace import read_pace

__all__ = ["AsyncioBackend", "transport"]

_PAUSE_AT = 1 << 20  # bytes waiting before the socket stops being read


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False
        self.writable: asyncio.Future[None] | None = None  # set while the peer does not read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= _PAUSE_AT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, connection: _Connection) -> None:
        self._transport, self._connection = transport, connection
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        pace = read_pace.get()
        if pace is not None and (idle := pace()) > 0:
            await asyncio.sleep(idle)  # what arrives meanwhile is parsed, and relayed, in one go
        connection = self._connection
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
                raise httpcore.ReadTimeout("The model endpoint went silent.") from None
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
            raise httpcore.ReadError(str(connection.error) or type(connection.error).__name__)
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
            raise httpcore.WriteError("The connection to the model endpoint is closed.")
        self._transport.write(buffer)
        if (writable := self._connection.writable) is not None:
            try:
                async with asyncio.timeout(timeout):
                    await writable
            except TimeoutError:
                raise httpcore.WriteTimeout("The model endpoint does not read the request.") from None

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                tls = await self._loop.start_tls(self._transport, self._connection, ssl_context,
                                                 server_hostname=server_hostname)  # fmt: skip
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout("The TLS handshake with the model endpoint timed out.") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if tls is None:
            raise httpcore.ConnectError("The TLS handshake with the model endpoint failed.")
        self._connection.transport = tls
        return _Stream(tls, self._connection)

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


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_connection(
                    _Connection, host, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"Connecting to {host}:{port} timed out.") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Stream(transport, connection)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are not used for the model endpoint.")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _Pool:
    """Kept-alive HTTP/1.1 connections per origin, taken and given back in O(1).

    httpcore's own pool looks at every connection it holds on every request and on every
    response's close (a list comprehension over them all, and a readability check each): at
    100 replies in progress that was 7 % of the server's CPU, and it grows with the sockets.
    This one pops an idle connection (the most recently used first) or opens a new one, and
    takes it back when its response is closed with the body read. httpx's transport calls
    `handle_async_request` and `aclose`, nothing else."""

    def __init__(self, *, ssl_context: ssl.SSLContext, max_keepalive: int, keepalive_expiry: float) -> None:
        self._ssl_context, self._max_keepalive, self._expiry = ssl_context, max_keepalive, keepalive_expiry
        self._backend = AsyncioBackend()
        self._idle: dict[tuple[bytes, bytes, int], deque[httpcore.AsyncHTTPConnection]] = {}
        self._open: set[httpcore.AsyncHTTPConnection] = set()

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        origin = request.url.origin
        key = (origin.scheme, origin.host, origin.port)
        idle = self._idle.setdefault(key, deque())
        connection: httpcore.AsyncHTTPConnection | None = None
        while idle:
            candidate = idle.pop()
            if candidate.is_available() and not candidate.has_expired():
                connection = candidate
                break
            await self._drop(candidate)
        if connection is None:
            connection = httpcore.AsyncHTTPConnection(
                origin=origin, ssl_context=self._ssl_context, keepalive_expiry=self._expiry,
                network_backend=self._backend,
            )  # fmt: skip
            self._open.add(connection)
        try:
            response = await connection.handle_async_request(request)
        except BaseException:
            await self._drop(connection)
            raise
        assert isinstance(response.stream, AsyncIterable)
        stream = _Returning(response.stream, lambda: self._give_back(key, connection))
        return httpcore.Response(status=response.status, headers=response.headers, content=stream,
                                 extensions=response.extensions)  # fmt: skip

    async def _give_back(self, key: tuple[bytes, bytes, int], connection: httpcore.AsyncHTTPConnection) -> None:
        idle = self._idle.setdefault(key, deque())
        if not connection.is_idle() or connection.has_expired():
            await self._drop(connection)
            return
        idle.append(connection)
        if len(idle) > self._max_keepalive:
            await self._drop(idle.popleft())  # the one idle the longest

    async def _drop(self, connection: httpcore.AsyncHTTPConnection) -> None:
        self._open.discard(connection)
        await connection.aclose()

    @property
    def connections(self) -> list[httpcore.AsyncHTTPConnection]:
        return list(self._open)

    async def aclose(self) -> None:
        for connection in list(self._open):
            await self._drop(connection)
        self._idle.clear()


class _Returning:
    """A response body that gives its connection back to the pool when it is closed."""

    def __init__(self, stream: AsyncIterable[bytes], give_back: Callable[[], Awaitable[None]]) -> None:
        self._stream, self._give_back = stream, give_back

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()  # no layer of our own per read

    async def aclose(self) -> None:
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()
        finally:
            await self._give_back()


def transport(*, max_keepalive: int, keepalive_expiry: float) -> httpx.AsyncHTTPTransport:
    """An httpx transport over AsyncioBackend and _Pool: HTTP/1.1, no cap on connections."""
    made = httpx.AsyncHTTPTransport()
    pool = _Pool(ssl_context=httpx.create_ssl_context(), max_keepalive=max_keepalive, keepalive_expiry=keepalive_expiry)
    made._pool = pool  # type: ignore[assignment]
    return made
