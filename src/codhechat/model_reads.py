"""The local client's reads of a model's socket, paced by what the screen can show.

The openai SDK's transport (httpx2 over httpcore2) reads a streaming response as soon
as any bytes land, so a model streaming 200 tokens a second wakes the whole reading
stack 200 times a second (a sixth of the app's CPU while it streamed), though the
screen shows new text 10 times a second. Here a read that would have to wait for
bytes first waits what `read_pace` says (the screen's next frame, at most
StreamPace.read_wait_s, so the end of a reply shows at most that much later), and
then takes everything that arrived meanwhile in one read. A read that finds bytes
waiting (in the socket or already in anyio's buffers: `bytes_waiting`) never waits: a
burst is read as fast as ever.

httpcore2's network backend is its documented extension point; the transport httpx2
builds keeps its pool's backend in a private attribute, set here once per client
(`paced_client`; tests/ui/test_read_pace.py fails if that stops taking effect).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2
from httpcore2._backends.auto import AutoBackend

from codhechat.read_pace import read_pace

__all__ = ["PacedBackend", "bytes_waiting", "paced_client"]


def bytes_waiting(stream: httpcore2.AsyncNetworkStream) -> bool:
    """Whether a read of `stream` returns at once: bytes in its socket, or already taken
    from it into anyio's buffers. While a read waits, the event loop moves up to 256 KiB
    at a time from the socket into the asyncio transport's queue (and, over TLS, into the
    TLS layer's), so at a burst's end the socket can be empty with the rest of the reply
    read but not yet returned: pacing that read held the reply's end up to a frame. Those
    buffers are anyio's own attributes (httpcore2's AnyIOStream keeps anyio's stream as
    `_stream`); where they are not found, the socket alone is asked, as httpcore2 does."""
    if stream.get_extra_info("is_readable"):
        return True
    layer: object = stream
    for _ in range(4):  # ours, httpcore2's AnyIOStream, anyio's TLSStream, anyio's SocketStream
        if getattr(getattr(layer, "_protocol", None), "read_queue", None):  # anyio's asyncio SocketStream
            return True
        ssl_object, bio = getattr(layer, "_ssl_object", None), getattr(layer, "_read_bio", None)  # anyio's TLSStream
        if (ssl_object is not None and ssl_object.pending()) or getattr(bio, "pending", 0):
            return True
        layer = getattr(layer, "_stream", None) or getattr(layer, "transport_stream", None)
        if layer is None:
            break
    return False


class _PacedStream(httpcore2.AsyncNetworkStream):
    def __init__(self, stream: httpcore2.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        pace = read_pace.get()
        if pace is not None and (wait := pace()) > 0 and not bytes_waiting(self._stream):
            await asyncio.sleep(wait)  # what arrives meanwhile is read, and decoded, in one go
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.AsyncNetworkStream:
        return _PacedStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class PacedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's own backend, its streams' reads paced by `read_pace`."""

    def __init__(self) -> None:
        self._backend = AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        return _PacedStream(await self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        return _PacedStream(await self._backend.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def paced_client() -> httpx2.AsyncClient:
    """The SDK's default HTTP client, its direct connections read through PacedBackend
    (through a proxy from the environment they are read as usual)."""
    from openai import DefaultAsyncHttpxClient

    client = DefaultAsyncHttpxClient()
    pool = getattr(client._transport, "_pool", None)
    if isinstance(pool, httpcore2.AsyncConnectionPool):
        pool._network_backend = PacedBackend()
    return client
