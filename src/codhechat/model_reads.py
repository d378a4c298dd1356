"""The local client's reads of a model's socket, paced by what the screen can show.

The openai SDK's transport (httpx2 over httpcore2, on anyio) reads a streaming response as
soon as any bytes land, so a model streaming 200 tokens a second wakes the whole reading
stack 200 times a second (a sixth of the app's CPU while it streamed), though the screen
shows new text 10 times a second. Its direct connections are made here on the sockets
`codhechat serve` uses (codhechat.asyncio_net): a read waits until the screen's next frame
(`read_pace`, set by the reply's view), or until the reply's end or a backlog arrives, and
then takes everything that arrived meanwhile in one read.

httpcore2's network backend is its documented extension point; the transport httpx2 builds
keeps its pool's backend in a private attribute, set here once per client (`paced_client`;
tests/ui/test_read_pace.py fails if that stops taking effect).
"""

from __future__ import annotations

from typing import cast

import httpcore2
import httpx2

from codhechat.asyncio_net import AsyncioBackend

__all__ = ["paced_client"]


def paced_client() -> httpx2.AsyncClient:
    """The SDK's default HTTP client, its direct connections made by AsyncioBackend
    (through a proxy from the environment they are made and read as usual)."""
    from openai import DefaultAsyncHttpxClient

    client = DefaultAsyncHttpxClient()
    pool = getattr(client._transport, "_pool", None)
    if isinstance(pool, httpcore2.AsyncConnectionPool):
        pool._network_backend = cast(httpcore2.AsyncNetworkBackend, AsyncioBackend(httpcore2))
    return client
