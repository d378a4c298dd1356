"""A streaming reply's frames are one event-loop timer each (ui/frame_timer.py), not a
Textual Timer and a task and a message each; they stop with the view, and an error in
one reaches the app as a Textual timer's would."""

from __future__ import annotations

import pytest
from textual.timer import Timer

from codhechat.ui.widgets.messages import ReplyView
from codhechat.ui.widgets.pane import MessagePane
from tests.fake_openai import FakeOpenAI, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until

WORDS = " ".join(f"w{i}" for i in range(120))


async def test_a_streaming_reply_draws_its_frames_without_textual_timers(
    make_app: AppFactory, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    init = Timer.__init__

    def counted(self: Timer, event_target: object, *args: object, **kwargs: object) -> None:
        made.append(event_target)
        init(self, event_target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Timer, "__init__", counted)
    frames = 0
    frame = ReplyView._frame

    def counted_frame(self: ReplyView) -> None:
        nonlocal frames
        frames += 1
        frame(self)

    monkeypatch.setattr(ReplyView, "_frame", counted_frame)
    fake_openai.enqueue(Reply(WORDS, delay=0.005))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.query(ReplyView)) and app.query(ReplyView).last().status is not None)
        assert app.query(ReplyView).last().text == WORDS
    assert frames >= 3  # it streamed over several frames
    assert not [target for target in made if isinstance(target, ReplyView)]


async def test_a_frame_due_after_its_view_is_removed_is_not_drawn(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[ReplyView] = []
    monkeypatch.setattr(ReplyView, "_frame", lambda self: drawn.append(self))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        view = ReplyView("model")
        await app.screen.query_one(MessagePane).add(view)
        await pilot.pause()
        view._frames.start(0.05)
        await view.remove()
        kept = ReplyView("model")
        await app.screen.query_one(MessagePane).add(kept)
        await pilot.pause()
        kept._frames.start(0.05)
        await wait_until(pilot, lambda: bool(drawn))  # the removed view's was due first
    assert drawn == [kept]


async def test_an_error_in_a_frame_reaches_the_app(make_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: ReplyView) -> None:
        raise ZeroDivisionError("a frame failed")

    monkeypatch.setattr(ReplyView, "_frame", broken)
    app = make_app()
    with pytest.raises(ZeroDivisionError):
        async with app.run_test(size=(100, 30)) as pilot:
            view = ReplyView("model")
            await app.screen.query_one(MessagePane).add(view)
            await pilot.pause()
            view._frames.start(0.01)
            await wait_until(pilot, lambda: app._exception is not None)
