"""Paced reads on the sockets under both model clients (codhechat.asyncio_net), against a
real loopback peer: a read waits for the frame (`read_pace`) and takes all that came
meanwhile, but never waits over the body's end, the connection's, or a backlog."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpcore
import pytest

from codhechat.asyncio_net import BACKLOG_BYTES, BODY_END, AsyncioBackend, _Stream
from codhechat.read_pace import read_pace

A_MINUTE = 60.0  # a frame that far away: a read that waited for it would time the test out


class Peer:
    """A loopback peer whose writes the test makes, one at a time."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.connected.set()

    async def send(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()


@pytest.fixture
async def connected() -> AsyncIterator[tuple[Peer, _Stream]]:
    peer = Peer()
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stream = await AsyncioBackend(httpcore).connect_tcp("127.0.0.1", port)
    await peer.connected.wait()
    try:
        yield peer, stream
    finally:
        await stream.aclose()
        assert peer.writer is not None
        peer.writer.close()
        server.close()
        await server.wait_closed()


async def until(predicate: Callable[[], object]) -> None:
    """Let the loop run until `predicate()` holds (bytes landed, a read began to wait)."""
    async with asyncio.timeout(10):
        while not predicate():
            await asyncio.sleep(0.005)


def paced(seconds: float) -> Callable[[], float]:
    return lambda: seconds


async def test_a_paced_read_waits_for_the_frame_then_takes_all_that_came(connected: tuple[Peer, _Stream]) -> None:
    peer, stream = connected
    await peer.send(b"3\r\nabc\r\n")
    await until(lambda: stream._connection.buffer)
    token = read_pace.set(paced(0.2))
    try:
        started = time.monotonic()
        got = await stream.read(65536)
    finally:
        read_pace.reset(token)
    assert time.monotonic() - started >= 0.2  # the frame was waited for
    assert got == b"3\r\nabc\r\n"


async def test_the_bodys_end_is_read_as_it_lands_not_at_the_frame(connected: tuple[Peer, _Stream]) -> None:
    peer, stream = connected
    token = read_pace.set(paced(A_MINUTE))
    try:
        await peer.send(b"3\r\nabc\r\n")
        await until(lambda: stream._connection.buffer)
        read = asyncio.create_task(stream.read(65536))
        await until(lambda: stream._connection.holder is not None)  # held: nothing worth reading yet
        await peer.send(b"2\r\nde\r\n" + BODY_END)
        got = await asyncio.wait_for(read, 10)
    finally:
        read_pace.reset(token)
    assert got == b"3\r\nabc\r\n2\r\nde\r\n" + BODY_END  # all of it, in one read


async def test_a_backlog_is_read_at_once(connected: tuple[Peer, _Stream]) -> None:
    peer, stream = connected
    token = read_pace.set(paced(A_MINUTE))
    try:
        read = asyncio.create_task(stream.read(65536))
        await until(lambda: stream._connection.holder is not None)
        await peer.send(b"x" * (BACKLOG_BYTES + 100))
        got = await asyncio.wait_for(read, 10)  # woken as the backlog landed, not at the frame
    finally:
        read_pace.reset(token)
    assert BACKLOG_BYTES <= len(got) <= BACKLOG_BYTES + 100 and set(got) == {ord("x")}


async def test_a_closed_connection_is_read_at_once(connected: tuple[Peer, _Stream]) -> None:
    peer, stream = connected
    token = read_pace.set(paced(A_MINUTE))
    try:
        await peer.send(b"last words")
        read = asyncio.create_task(stream.read(65536))
        await until(lambda: stream._connection.holder is not None)
        assert peer.writer is not None
        peer.writer.close()
        got = await asyncio.wait_for(read, 10)
        end = await asyncio.wait_for(stream.read(65536), 10)
    finally:
        read_pace.reset(token)
    assert (got, end) == (b"last words", b"")


async def test_an_unpaced_read_returns_what_waits_at_once(connected: tuple[Peer, _Stream]) -> None:
    peer, stream = connected
    await peer.send(b"now")
    assert await asyncio.wait_for(stream.read(65536), 10) == b"now"
