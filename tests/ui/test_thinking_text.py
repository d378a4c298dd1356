"""The streaming thinking (ui/widgets/thinking_text.py) wraps only its last line as text is
appended, and shows, at every step, what the whole text rendered at once shows."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.app import App, ComposeResult

from codhechat.ui.stream_pace import StreamPace
from codhechat.ui.widgets import thinking_text
from codhechat.ui.widgets.thinking_text import STYLE, ThinkingText, shown_text


class ThinkingApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ThinkingText()


def whole(app: App[None], text: str, width: int) -> list[str]:
    options = app.console_options.update_width(width).update(height=None)
    lines = app.console.render_lines(Text(shown_text(text), style=STYLE), options, pad=False)
    return ["".join(segment.text for segment in line) for line in lines]


def shown(widget: ThinkingText, width: int) -> list[str]:
    return ["".join(segment.text for segment in line) for line in widget.lines(width)]


WORDS = st.text(alphabet="ab \n\t\x1b", min_size=1, max_size=12) | st.sampled_from(["word ", "x" * 30, "\n\n", " "])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(WORDS, min_size=1, max_size=40), width=st.integers(min_value=4, max_value=30))
async def test_growing_thinking_shows_what_the_whole_shows_at_every_step(steps: list[str], width: int) -> None:
    app = ThinkingApp()
    async with app.run_test(size=(40, 10)):
        widget = app.query_one(ThinkingText)
        widget.live = False  # its height is then its lines (no room kept below them)
        text = ""
        for step in steps:
            text += step
            widget.set_text(text)
            assert shown(widget, width) == whole(app, text, width), (text, width)
            assert widget.get_content_height(widget.size, widget.size, width) == len(whole(app, text, width))


async def test_each_step_wraps_only_the_last_line_and_what_came() -> None:
    app = ThinkingApp()
    wrapped: list[int] = []
    async with app.run_test(size=(60, 20)) as pilot:
        widget = app.query_one(ThinkingText)
        render = widget._paragraph_lines
        widget._paragraph_lines = lambda paragraph, width: wrapped.append(len(paragraph)) or render(paragraph, width)  # type: ignore[method-assign]
        text = ""
        for i in range(2000):  # ~14,000 characters of one paragraph, as a thought often is
            text += f"token{i} "
            widget.set_text(text)
            widget.lines(widget.content_size.width)
        assert max(wrapped) < 2 * widget.content_size.width  # never the whole thought
        await pilot.pause()  # (laid out again, with a scrollbar: narrower, so wrapped again once)
        assert shown(widget, widget.content_size.width) == whole(app, text, widget.content_size.width)


async def test_a_step_within_its_room_lays_nothing_out() -> None:
    """While live it keeps jump_lines of room below its text: a step that adds no line, or
    one that fits the room, repaints only what changed; one past the room lays out (and
    makes new room); its end gives up the room."""
    app = ThinkingApp()
    async with app.run_test(size=(60, 20)) as pilot:
        widget = app.query_one(ThinkingText)
        widget.set_text("the model thinks about it")
        await pilot.pause()
        assert widget.size.height == StreamPace().jump_lines  # its line and the room below
        layouts: list[bool] = []
        refresh = widget.refresh
        widget.refresh = lambda *regions, layout=False, **kw: (
            layouts.append(layout) or refresh(*regions, layout=layout, **kw)
        )  # type: ignore[method-assign]
        text = "the model thinks about it more"
        widget.set_text(text)
        text += "\nand a new line"
        widget.set_text(text)
        assert layouts == [False, False]
        room = widget.size.height
        for i in range(StreamPace().jump_lines):
            text += f"\nline {i}"
            widget.set_text(text)
            shown = len(widget.lines(widget.content_size.width))
            assert layouts[-1] is (shown > room), (shown, room)  # a layout only past the room
        await pilot.pause()
        assert widget.size.height > len(widget.lines(widget.content_size.width))
        widget.end()
        await pilot.pause()
        assert widget.size.height == len(widget.lines(widget.content_size.width)) == len(whole(app, text, 60))
        assert thinking_text.STYLE == "dim italic"


async def test_an_ended_thought_looks_the_same_and_can_be_selected() -> None:
    """Ended, it is painted by Textual's own path (as a Static's text), which wraps as the
    streaming lines did, and which selecting and copying work on."""
    from textual.selection import Selection

    app = ThinkingApp()
    text = "a thought with  two spaces,\ta tab, " + "words of it " * 40 + "x" * 90 + "\n\n  and more."
    async with app.run_test(size=(60, 20)) as pilot:
        widget = app.query_one(ThinkingText)
        widget.set_text(text)
        await pilot.pause()
        width = widget.content_size.width
        streamed = [widget.render_line(y).text.rstrip() for y in range(len(widget.lines(width)))]
        widget.end()
        await pilot.pause()
        assert widget.size.height == len(streamed)
        assert [widget.render_line(y).text.rstrip() for y in range(widget.size.height)] == streamed
        assert widget.get_selection(Selection(None, None)) == (shown_text(text), "\n")
