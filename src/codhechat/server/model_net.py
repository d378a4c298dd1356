"""The server's pool of connections to the model endpoint, over the sockets of asyncio_net.py.

httpcore's own pool looks at every connection it holds on every request and on every
response's close; this one (_Pool) takes and gives back a connection in O(1). Under it, each
connection is codhechat.asyncio_net's: an `asyncio.Protocol` that reads all the time into a
buffer, its reads paced by the WebSocket relay's frames (codhechat.read_pace). Above it,
httpcore's HTTP/1.1 connections and httpx are unchanged.
"""

from __future__ import annotations

import ssl
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import cast

import httpcore
import httpx

from codhechat.asyncio_net import AsyncioBackend

__all__ = ["transport"]


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
        self._backend = cast(httpcore.AsyncNetworkBackend, AsyncioBackend(httpcore))  # its interface, not its base
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
