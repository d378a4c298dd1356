"""The model's stream is read as often as the screen shows the reply (codhechat.read_pace,
model_reads.py): what a model streams between two frames is read in one go, not token
by token, and a read that finds bytes waiting never waits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from codhechat import model_reads
from codhechat.read_pace import read_pace
from codhechat.ui.widgets.messages import ReplyView
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until

WORDS = [f"w{i}" for i in range(300)]


def counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads: list[int] = []
    read = model_reads._PacedStream.read

    async def counted(self: model_reads._PacedStream, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await read(self, max_bytes, timeout)
        reads.append(len(data))
        return data

    monkeypatch.setattr(model_reads._PacedStream, "read", counted)
    return reads


async def test_a_steady_stream_is_read_a_few_times_a_frame_not_once_a_token(
    make_app: AppFactory, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = counting_reads(monkeypatch)
    fake_openai.enqueue(Reply(" ".join(WORDS), delay=0.005))  # 300 chunks, one a token, over 1.5 s or more
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.query(ReplyView)) and app.query(ReplyView).last().status is not None)
        assert app.query(ReplyView).last().text == " ".join(WORDS)
    # Unpaced, each chunk is a read of its own (300 and more); paced, a few a frame.
    assert len(reads) < 150, len(reads)


class _Inner:
    """A network stream with bytes waiting (`readable`) or not: what the pacing looks at."""

    def __init__(self, readable: bool) -> None:
        self.readable = readable

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return b"data"

    def get_extra_info(self, info: str) -> Any:
        return self.readable if info == "is_readable" else None


async def test_a_read_waits_the_pace_only_when_no_bytes_are_waiting() -> None:
    token = read_pace.set(lambda: 0.2)
    try:
        started = time.monotonic()
        assert await model_reads._PacedStream(_Inner(readable=True)).read(10) == b"data"  # type: ignore[arg-type]
        waited_readable = time.monotonic() - started
        started = time.monotonic()
        await asyncio.wait_for(model_reads._PacedStream(_Inner(readable=False)).read(10), 30)  # type: ignore[arg-type]
        waited_empty = time.monotonic() - started
    finally:
        read_pace.reset(token)
    assert waited_empty >= 0.2  # waited for the frame, then read all that came meanwhile
    assert waited_readable < waited_empty  # a burst is read as fast as ever (never slept)


async def test_a_read_does_not_wait_for_bytes_already_taken_from_the_socket() -> None:
    """At a burst's end the event loop has moved what was left of it from the socket into
    anyio's buffer: the socket is empty, yet a read returns at once, so the pace must not
    hold it (it held the end of a burst up to a frame)."""
    sent, done = asyncio.Event(), asyncio.Event()
    burst = bytes(range(256)) * 200  # 51,200 bytes, written at once: all in the socket before the first read

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(burst)
        await writer.drain()
        sent.set()
        await done.wait()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stream = await model_reads.PacedBackend().connect_tcp("127.0.0.1", port)
    try:
        await sent.wait()
        got = await stream.read(1000)  # waits for bytes: the loop takes all that came, at once
        assert not stream.get_extra_info("is_readable")  # the socket is empty: the rest is in anyio's buffer
        assert model_reads.bytes_waiting(stream)
        token = read_pace.set(lambda: 60.0)  # the next frame a minute away: a read that would wait, waits that long
        try:
            while len(got) < len(burst):
                got += await asyncio.wait_for(stream.read(1000), 10)
        finally:
            read_pace.reset(token)
        assert got == burst
    finally:
        done.set()
        await stream.aclose()
        server.close()
        await server.wait_closed()
