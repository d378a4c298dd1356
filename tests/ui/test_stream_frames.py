"""What a streaming frame costs (issue 20), counted, never timed: the widgets outside the
lines that changed are not rendered again, the live piece makes only its changed lines,
and those lines are what Textual's own path would have made."""

from __future__ import annotations

import hashlib
import inspect
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from textual._compositor import Compositor
from textual._styles_cache import StylesCache
from textual.screen import Screen
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import Header

from codhechat.ui.widgets.footer import ChatFooter
from codhechat.ui.widgets.frozen_pieces import FrozenPieces
from codhechat.ui.widgets.messages import ReplyView
from codhechat.ui.widgets.pane import MessagePane
from codhechat.ui.widgets.piece_view import MarkdownPiece
from codhechat.ui.widgets.sidebar import ConversationTree
from codhechat.ui.widgets.status import StatusBar
from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.ui.conftest import AppFactory, type_text, wait_until

SIZE = (120, 40)
# Words a token each, a paragraph every 12 words, a [link](…) now and then: the steady bench's shape.
WORDS = [f"word{i}" + ("\n\n" if i % 12 == 11 else " ") for i in range(320)]
TEXT = "".join(w if i % 20 else f"[see {i}](https://example.org/{i}) " for i, w in enumerate(WORDS))

# The source of the method ui/dirty_compositor.py replaces, as written in Textual 8.2.8.
PINNED_GET_RENDERS = "8ac93299aa5d3bef43b3924a9d09741de8855d9c4823502bcf304fbd8fd40f17"


@contextmanager
def spying(owner: type, name: str, note: Callable[..., None]) -> Iterator[None]:
    """`note(*args)` before each call of `owner.name`, until the block ends."""
    original = getattr(owner, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        note(*args, **kwargs)
        return original(*args, **kwargs)

    setattr(owner, name, spy)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextmanager
def counting_renders() -> Iterator[Counter[str]]:
    """How many times each kind of widget is asked for lines (Widget.render_lines)."""
    counts: Counter[str] = Counter()
    with spying(Widget, "render_lines", lambda widget, crop: counts.update([type(widget).__name__])):
        yield counts


@contextmanager
def counting_layouts() -> Iterator[list[Screen]]:
    """One entry per layout of the screen's widgets (a scroll's refresh is not one)."""
    layouts: list[Screen] = []

    def note(screen: Screen, size: object = None, scroll: bool = False) -> None:
        if not (scroll and not screen._layout_widgets):
            layouts.append(screen)

    with spying(Screen, "_refresh_layout", note):
        yield layouts


@contextmanager
def counting_rows() -> Iterator[Counter[str]]:
    """How many rows each kind of widget is asked for by the compositor (to paint)."""
    rows: Counter[str] = Counter()
    with spying(Widget, "render_lines", lambda widget, crop: rows.update({type(widget).__name__: crop.height})):
        yield rows


@contextmanager
def counting_link_styles() -> Iterator[Counter[str]]:
    """How many times each kind of widget's link style is worked out (from its CSS)."""
    counts: Counter[str] = Counter()
    original = Widget.link_style

    def counted(widget: Widget) -> Any:
        counts.update([type(widget).__name__])
        return original.fget(widget)  # type: ignore[attr-defined]

    Widget.link_style = property(counted)  # type: ignore[method-assign,assignment]
    try:
        yield counts
    finally:
        Widget.link_style = original  # type: ignore[method-assign]


@contextmanager
def counting_drawn_lines() -> Iterator[Counter[str]]:
    """How many lines each kind of widget draws anew (not from its cache of drawn lines):
    the render_line it is handed (args[8], after the cache itself) is the widget's own."""
    counts: Counter[str] = Counter()
    with spying(StylesCache, "render_line", lambda *args: counts.update([type(args[8].__self__).__name__])):
        yield counts


async def stream_while(make_app: AppFactory, fake_openai: FakeOpenAI, measure, held: Gate | None = None) -> None:  # type: ignore[no-untyped-def]
    """Stream TEXT at a steady pace; `measure(app, reply)` is awaited once it is under way
    (`held`: the stream stops after 125 tokens until it opens)."""
    started = Gate()
    holds = ((10, started), (125, held)) if held else ((10, started),)
    fake_openai.enqueue(Reply(TEXT, delay=0.01, holds=holds))
    app = make_app(stream_refresh_hz=30, stream_jump_lines=8)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and "word8" in app.query(ReplyView).last().text)
        await pilot.pause(0.2)  # the reply view mounted, the pane laid out
        reply = app.query(ReplyView).last()
        started.open()
        await measure(pilot, reply)
        if held:
            held.open()
        await wait_until(pilot, lambda: reply.status is not None)


def test_the_replaced_compositor_method_is_the_one_it_was_written_for() -> None:
    source = inspect.getsource(Compositor._get_renders)
    assert hashlib.sha256(source.encode()).hexdigest() == PINNED_GET_RENDERS, (
        "Textual changed Compositor._get_renders: check codhechat/ui/dirty_compositor.py against it"
    )


async def renders_while_streaming(make_app: AppFactory, fake_openai: FakeOpenAI) -> dict[str, int]:
    """How many times each kind of widget rendered while the reply streamed on to word201."""
    seen: dict[str, int] = {}

    async def measure(pilot, reply):  # type: ignore[no-untyped-def]
        with counting_renders() as counts:
            await wait_until(pilot, lambda: "word201" in reply.text)
        seen.update(counts)

    await stream_while(make_app, fake_openai, measure)
    return seen


async def test_the_rest_of_the_screen_is_not_rendered_while_a_reply_streams(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    seen = await renders_while_streaming(make_app, fake_openai)
    assert seen.get("MarkdownPiece", 0) >= 5, seen  # the stream was painted, frame after frame
    for still in (ConversationTree, Header, ChatFooter, StatusBar):
        assert seen.get(still.__name__, 0) <= 2, (still.__name__, seen)  # not once a frame


async def test_the_live_piece_makes_only_its_changed_lines(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    whole: Counter[str] = Counter()

    async def measure(pilot, reply):  # type: ignore[no-untyped-def]
        original = Visual.to_strips

        def counted(widget, *args, **kwargs):  # type: ignore[no-untyped-def]
            whole[type(widget).__name__] += 1
            return original(widget, *args, **kwargs)

        Visual.to_strips = counted  # type: ignore[method-assign]
        try:
            with counting_renders() as counts:
                await wait_until(pilot, lambda: "word201" in reply.text)
        finally:
            Visual.to_strips = original  # type: ignore[method-assign]
        assert counts["MarkdownPiece"] >= 5, counts

    await stream_while(make_app, fake_openai, measure)
    assert whole["MarkdownPiece"] <= 3, whole  # a cut's new piece, maybe; never once a frame


async def test_the_live_piece_lines_are_textuals_own(make_app: AppFactory, fake_openai: FakeOpenAI) -> None:
    async def measure(pilot, reply):  # type: ignore[no-untyped-def]
        await wait_until(pilot, lambda: "word110" in reply.text)
        await pilot.pause(0.2)  # painted
        piece = reply.query(MarkdownPiece).last()
        assert piece.live and "](https://" in piece.piece.source  # with a link
        width, height = piece.content_size
        ours = [piece.render_line(y) for y in range(height)]
        theirs = Visual.to_strips(piece, piece._render(), width, height, piece.visual_style)
        assert ours[: len(theirs)] == theirs
        assert all(not strip.text.strip() for strip in ours[len(theirs) :])  # the room below: blank

    await stream_while(make_app, fake_openai, measure, Gate())


async def test_a_jump_of_the_pane_is_one_layout_that_draws_only_the_new_lines(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    """A jump changes the sizes of the reply's widgets and of the pane. Taking them asks for
    no second layout that would find nothing to move, and the reply's widgets, grown
    taller, draw only their new lines and those whose text changed (ui/widgets/laid_out.py);
    and the frame after a jump paints only what it changed, not the lines the jump's own
    paint already sent."""
    held = Gate()
    fake_openai.enqueue(Reply("start\n\n" * 30, holds=((30, held),)))  # taller than the pane
    app = make_app(stream_refresh_hz=30, stream_jump_lines=8)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().text.count("start") == 30)
        reply, pane = app.query(ReplyView).last(), app.query_one(MessagePane)

        def frozen_count() -> int:
            return sum(len(frozen.pieces) for frozen in reply.query(FrozenPieces))

        async def settle() -> None:
            """Until the reply shows all it was given and the screen asks for nothing more:
            each pause hands every widget's messages over and runs the screen's update."""
            await wait_until(pilot, lambda: not reply._pending and not reply._flush_scheduled)
            seen = -1
            while seen != len(layouts):
                seen = len(layouts)
                for _ in range(3):
                    await pilot.pause()

        with counting_layouts() as layouts:
            await settle()
            steps = []  # (layouts it took, lines the reply and its tail drew, pane grew, tail cut)
            painted = []  # rows of the tail painted in each step
            for i in range(24):
                height, frozen, before = pane.virtual_size.height, frozen_count(), len(layouts)
                with counting_drawn_lines() as drawn, counting_rows() as rows:
                    reply.append(f"\n\nline {i} " + "x " * 10)
                    await settle()
                painted.append(rows["MarkdownPiece"])
                grew = pane.virtual_size.height != height
                # with no second layout the pane still follows the bottom and its scrollbar knows
                assert pane.scroll_y == pane.max_scroll_y > 0, (i, pane.scroll_y, pane.max_scroll_y)
                assert pane.vertical_scrollbar.window_virtual_size == pane.virtual_size.height
                assert pane.vertical_scrollbar.position == pane.scroll_y
                lines = (drawn["ReplyView"], drawn["MarkdownPiece"])
                steps.append((len(layouts) - before, lines, grew, frozen_count() != frozen))
        held.open()
        await wait_until(pilot, lambda: reply.status is not None)
    jumps = [(taken, lines) for taken, lines, grew, cut in steps if grew and not cut]
    assert len(jumps) >= 3, steps  # the pane jumped, more than once
    assert [taken for taken, _ in jumps] == [1] * len(jumps), steps
    # 8 new lines, and the tail's changed ones (not the 34 of each that are in view)
    assert all(reply_lines <= 8 and tail_lines <= 12 for _, (reply_lines, tail_lines) in jumps), steps
    after_jumps = [painted[i + 1] for i, (_, _, grew, _) in enumerate(steps[:-1]) if grew and not any(steps[i + 1][2:])]
    assert after_jumps and max(after_jumps) <= 4, (after_jumps, steps)  # the two or three lines it added


async def test_a_paint_works_out_the_live_pieces_styles_once_not_once_a_line(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    """Its style and its links' are worked out from CSS each time they are asked for (~55 µs):
    once a paint, not once a line (ui/widgets/line_painting.py)."""

    async def measure(pilot, reply):  # type: ignore[no-untyped-def]
        with counting_link_styles() as worked_out, counting_rows() as rows, counting_renders() as paints:
            await wait_until(pilot, lambda: "word201" in reply.text)
        assert rows["MarkdownPiece"] > 2 * paints["MarkdownPiece"] > 0, (rows, paints)  # lines, not paints
        assert worked_out["MarkdownPiece"] <= paints["MarkdownPiece"], (worked_out, paints)

    await stream_while(make_app, fake_openai, measure)
