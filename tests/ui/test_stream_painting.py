"""How a streaming reply is painted (issue 20): the pane follows it in steps of
`stream_jump_lines` (blank room kept below the live text), not line by line, and
the room goes once the reply ends; the settings reach the app."""

from __future__ import annotations

import time

from codhechat.models import MessageStatus
from codhechat.ui.stream_pace import StreamPace
from codhechat.ui.widgets.messages import ReplyView
from codhechat.ui.widgets.pane import MessagePane
from codhechat.ui.widgets.piece_view import MarkdownPiece
from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until

SIZE = (110, 36)
TEXT = "".join(f"Paragraph {i}.\n\n" for i in range(120))  # 2 tokens a paragraph


def text_lines(piece: MarkdownPiece) -> int:
    return len(piece._rendered.get("monokai").lines(piece.app.console, piece._options(piece.content_size.width)))


async def scroll_steps(make_app: AppFactory, fake_openai: FakeOpenAI, jump_lines: int) -> list[int]:
    """How far the pane moved each time it followed the streaming reply down."""
    started = Gate()
    fake_openai.enqueue(Reply(TEXT[: len(TEXT) * 2 // 3], delay=0.02, holds=((4, started),)))
    app = make_app(stream_jump_lines=jump_lines, stream_refresh_hz=60)
    steps: list[int] = []
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(MessagePane)
        await type_text(pilot, "long")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and "Paragraph 1." in app.query(ReplyView).last().text)
        reply, last = app.query(ReplyView).last(), pane.scroll_y
        started.open()
        while reply.status is None:  # sampled often: a frame is 17 ms
            await pilot.pause(0.005)
            if reply.status is None and pane.scroll_y > last:
                steps.append(round(pane.scroll_y - last))
            last = pane.scroll_y
        await pilot.pause(0.1)
        assert pane.scroll_y == pane.max_scroll_y  # followed to the end
    return steps


async def test_the_pane_follows_the_stream_in_jumps_not_line_by_line(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    line_by_line = await scroll_steps(make_app, fake_openai, 1)
    jumps = await scroll_steps(make_app, fake_openai, 8)
    assert jumps and line_by_line
    assert len(jumps) * 2 <= len(line_by_line), (jumps, line_by_line)
    assert sorted(jumps)[len(jumps) // 2] >= 6, jumps  # most steps are a jump, not a line


async def test_the_live_piece_keeps_room_below_it_until_the_reply_ends(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    held = Gate()
    fake_openai.enqueue(Reply(TEXT, holds=((61, held),)))  # held inside a paragraph's text
    app = make_app(stream_jump_lines=8)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(MessagePane)
        await type_text(pilot, "long")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and "Paragraph 29." in app.query(ReplyView).last().text)
        await pilot.pause(0.3)
        tail = app.query(MarkdownPiece).last()
        assert tail.live and 0 <= tail.content_size.height - text_lines(tail) <= 7
        assert pane.scroll_y == pane.max_scroll_y  # the room is on screen, below the text
        held.open()
        await wait_until(pilot, lambda: app.query(ReplyView).last().status == MessageStatus.COMPLETE)
        await pilot.pause(0.1)
        tail = app.query(MarkdownPiece).last()
        assert not tail.live and tail.content_size.height == text_lines(tail)  # no blank room left
        assert pane.scroll_y == pane.max_scroll_y


async def test_the_stream_settings_reach_the_app(make_app: AppFactory) -> None:
    app = make_app(stream_refresh_hz=4, stream_jump_lines=3)
    assert app.stream_pace == StreamPace(refresh_hz=4, jump_lines=3)
    assert make_app().stream_pace == StreamPace()  # defaults: 10 a second, 8 lines


async def test_a_fast_reply_makes_room_for_a_second_of_its_text_at_a_jump(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    """Each jump is a layout and a repaint of the pane, so a fast reply makes room for a
    second's worth of its lines at a time (up to half the screen); a slow one, jump_lines;
    and a jump_lines of 1 is line by line however fast the reply."""
    held = Gate()
    fake_openai.enqueue(Reply(TEXT, holds=((4, held),)))
    app = make_app(stream_jump_lines=8)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "long")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(MarkdownPiece) and "Paragraph 1." in app.query(ReplyView).last().text)
        reply, tail = app.query(ReplyView).last(), app.query(MarkdownPiece).last()

        def room_at(chars_per_s: int) -> int:
            reply._started, reply._chars = time.monotonic() - 10, chars_per_s * 10
            return tail._jump(100, 40)  # 100 columns, 40 rows

        assert room_at(1_550) == 15  # 15.5 lines a second at 100 columns
        assert room_at(100_000) == 20  # half the screen at most
        assert room_at(300) == 7  # jump_lines, counting the new line
        app.stream_pace = StreamPace(jump_lines=1)
        assert room_at(100_000) == 0
        held.open()


async def test_the_prompt_cursor_stays_lit_while_the_reply_shown_streams(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    """A blink is a screen update of its own, twice a second: while the reply shown streams
    the cursor stays lit (no blink timer), and blinks again once the reply ends."""
    held = Gate()
    fake_openai.enqueue(Reply("one two three four", holds=((2, held),)))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.screen.prompt
        assert prompt.cursor_blink and prompt.has_focus and prompt.blink_timer._active.is_set()
        await type_text(pilot, "go")
        await pilot.press("enter")
        await held.reached_async()
        await wait_until(pilot, lambda: not prompt.cursor_blink)
        assert not prompt.blink_timer._active.is_set()  # paused: no blinks while it streams
        assert prompt._draw_cursor  # lit
        held.open()
        await wait_until(pilot, lambda: app.query(ReplyView).last().status == MessageStatus.COMPLETE)
        await wait_until(pilot, lambda: prompt.cursor_blink)
        assert prompt.blink_timer._active.is_set()
