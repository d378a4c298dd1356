"""The model's stream is read as often as the screen shows the reply (codhechat.read_pace,
model_reads.py, asyncio_net.py): what a model streams between two frames is read in one go,
once a frame, not token by token."""

from __future__ import annotations

import pytest

from codhechat import asyncio_net
from codhechat.ui.stream_pace import wait_to_read
from codhechat.ui.widgets.messages import ReplyView
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until

WORDS = [f"w{i}" for i in range(300)]


async def test_a_steady_stream_is_read_once_a_frame_not_once_a_token(
    make_app: AppFactory, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = 0  # once a frame is drawn (until then, each read's text shows at once)
    read = asyncio_net._Stream.read

    async def counted(self: asyncio_net._Stream, max_bytes: int, timeout: float | None = None) -> bytes:
        nonlocal reads
        data = await read(self, max_bytes, timeout)
        reads += frames > 0
        return data

    monkeypatch.setattr(asyncio_net._Stream, "read", counted)
    frames = 0
    flush = ReplyView._flush

    def counted_flush(self: ReplyView) -> None:
        nonlocal frames
        frames += bool(self._pending)
        flush(self)

    monkeypatch.setattr(ReplyView, "_flush", counted_flush)
    fake_openai.enqueue(Reply(" ".join(WORDS), delay=0.005))  # 300 chunks, one a token, over 1.5 s or more
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.query(ReplyView)) and app.query(ReplyView).last().status is not None)
        assert app.query(ReplyView).last().text == " ".join(WORDS)
    # Unpaced, each chunk is a read of its own (300 and more); paced, one a frame (a read at
    # once after each frame, as before, made it two), and the end's; on a busy machine a
    # backlog read now and then.
    assert reads <= frames + frames // 4 + 2, (reads, frames)


def test_a_frame_being_drawn_puts_the_next_read_off_to_the_frame_after() -> None:
    frame, last = 0.1, 1000.0
    assert wait_to_read(last, frame, last + 0.04, idle=False) == pytest.approx(0.06)  # the next frame
    assert wait_to_read(last, frame, last + 0.095, idle=False) == pytest.approx(0.105)  # due now: the one after
    assert wait_to_read(last, frame, last + 0.12, idle=False) == pytest.approx(0.1)  # overdue: being drawn
    assert wait_to_read(last, frame, last + 0.5, idle=False) == pytest.approx(0.1)  # late: text waits for it
    assert wait_to_read(last, frame, last + 0.5, idle=True) == 0  # none drawn for a while: at once
