"""ui/terminal_output.py writes an update as style and cursor changes: the terminal shows
exactly what Textual's own writing shows, in fewer bytes, and is left in its default style."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.color import Color, ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.geometry import Region
from textual.strip import Strip

from codhechat.ui.terminal_output import (
    ChangesChopsUpdate,
    ChangesLayoutUpdate,
    StyleChanges,
    style_state,
    transition,
)
from tests.fake_openai import FakeOpenAI, Gate
from tests.support.terminal_screen import forget_rendered_styles, screen_after
from tests.ui.conftest import AppFactory
from tests.ui.test_stream_frames import stream_while, wait_until

COLUMNS, ROWS = 24, 4
CONSOLE = Console(color_system="truecolor", force_terminal=True, width=COLUMNS)
DEFAULT_STATE = screen_after("", 1, 1)[1]

colors = st.one_of(
    st.none(),
    st.sampled_from(["red", "bright_green", "color(208)", "default"]).map(Color.parse),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(lambda rgb: Color.from_rgb(*rgb)),
)
styles = st.one_of(
    st.none(),
    st.builds(
        Style,
        color=colors,
        bgcolor=colors,
        bold=st.sampled_from([None, True, False]),
        dim=st.sampled_from([None, True]),
        italic=st.sampled_from([None, True]),
        underline=st.sampled_from([None, True]),
        reverse=st.sampled_from([None, True]),
        strike=st.sampled_from([None, True]),
        blink=st.sampled_from([None, True]),
        link=st.sampled_from([None, "https://example.com/a"]),
    ),
)
texts = st.text(st.sampled_from("ab Z│é"), min_size=0, max_size=5)
strips = st.lists(st.tuples(texts, styles), max_size=4).map(
    lambda parts: Strip([Segment(text, style) for text, style in parts])
)


def line_of(parts: list[Strip]) -> tuple[dict[int, Strip | None], list[int]]:
    """A line's chops, as the compositor gives them: {x: strip} and each chop's end."""
    chops: dict[int, Strip | None] = {}
    ends: list[int] = []
    x = 0
    for strip in parts:
        if x + strip.cell_length > COLUMNS:
            break
        chops[x] = strip
        x += strip.cell_length
        ends.append(x)
    return chops, ends


lines = st.lists(strips, max_size=4).map(line_of)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(lines, min_size=ROWS, max_size=ROWS),
    st.lists(st.tuples(st.integers(0, ROWS - 1), st.integers(0, COLUMNS - 1), st.integers(1, COLUMNS)), min_size=1),
)
def test_a_partial_update_paints_what_textuals_paints(
    chop_lines: list[tuple[dict[int, Strip | None], list[int]]], spans: list[tuple[int, int, int]]
) -> None:
    # One span a line, top to bottom, as Textual's _regions_to_spans gives them for one region
    # (Textual writes a newline after each span: more spans than lines would scroll its screen).
    spans = sorted({y: (y, x1, max(x1 + 1, x2)) for y, x1, x2 in spans}.values())
    chops = [chops for chops, _ in chop_lines]
    ends = [ends for _, ends in chop_lines]
    theirs = ChopsUpdate(chops, spans, ends).render_segments(CONSOLE)
    ours = ChangesChopsUpdate(ChopsUpdate(chops, spans, ends), StyleChanges()).render_segments(CONSOLE)
    ours_screen, left_in = screen_after(ours, COLUMNS, ROWS)
    assert ours_screen == screen_after(theirs, COLUMNS, ROWS)[0]
    assert left_in == DEFAULT_STATE
    assert len(ours.encode()) <= len(theirs.encode())


@settings(max_examples=200, deadline=None)
@given(st.lists(lines, min_size=ROWS, max_size=ROWS))
def test_a_full_update_paints_what_textuals_paints(chop_lines: list[tuple[dict[int, Strip | None], list[int]]]) -> None:
    strips = [[strip for strip in chops.values() if strip is not None] for chops, _ in chop_lines]
    update = LayoutUpdate(strips, Region(0, 0, COLUMNS, ROWS))
    theirs = update.render_segments(CONSOLE)
    ours = ChangesLayoutUpdate(update, StyleChanges()).render_segments(CONSOLE)
    ours_screen, left_in = screen_after(ours, COLUMNS, ROWS)
    assert ours_screen == screen_after(theirs, COLUMNS, ROWS)[0]
    assert left_in == DEFAULT_STATE


def state(**style: object) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    return style_state(Style(**style), ColorSystem.TRUECOLOR)  # type: ignore[arg-type]


def test_a_change_writes_only_what_changed_and_resets_when_an_attribute_goes_off() -> None:
    grey_on_black = state(color="#e0e0e0", bgcolor="#000000")
    assert transition(grey_on_black, grey_on_black) == ""
    assert transition(grey_on_black, state(color="#ff0000", bgcolor="#000000")) == "\x1b[38;2;255;0;0m"
    assert transition(grey_on_black, state(color="#e0e0e0", bgcolor="#000000", dim=True)) == "\x1b[2m"
    assert transition(state(dim=True, color="red"), state(color="red")) == "\x1b[0;31m"  # dim off: reset
    assert transition(grey_on_black, state()) == "\x1b[0m"  # back to the default: a reset is shortest
    assert transition(state(color="red"), state(color="red", bgcolor="blue")) == "\x1b[44m"


def test_the_cursor_is_moved_only_where_it_is_not_after_plain_text() -> None:
    ascii_then_bar = {0: Strip([Segment("abc", Style(color="red"))]), 3: Strip([Segment("▁", Style(color="blue"))])}
    wide_then_bar = {0: Strip([Segment("界b", Style(color="red"))]), 3: Strip([Segment("▁", Style(color="blue"))])}
    for chops, moves in ((ascii_then_bar, 1), (wide_then_bar, 2)):
        update = ChopsUpdate([chops], [(0, 0, 4)], [[3, 4]])
        ours = ChangesChopsUpdate(update, StyleChanges()).render_segments(CONSOLE)
        assert ours.count("H") == moves, ours  # "\x1b[1;1H" before the first chop; again after a wide one


async def test_a_streaming_screen_is_painted_the_same_in_far_fewer_bytes(
    make_app: AppFactory, fake_openai: FakeOpenAI
) -> None:
    async def measure(pilot, reply):  # type: ignore[no-untyped-def]
        await wait_until(pilot, lambda: "word90" in reply.text)
        compositor = pilot.app.screen._compositor
        width, height = compositor.size
        full = compositor.render_full_update()
        assert isinstance(full, ChangesLayoutUpdate)
        truecolor = Console(color_system="truecolor", force_terminal=True)  # as over SSH (a pilot's has 16)
        forget_rendered_styles(strip for line in full.strips for strip in line)
        theirs = LayoutUpdate.render_segments(full, truecolor)
        ours = full.render_segments(truecolor)
        ours_screen, theirs_screen = screen_after(ours, width, height), screen_after(theirs, width, height)
        differ = [(x, y, o, t) for y, (orow, trow) in enumerate(zip(ours_screen[0], theirs_screen[0], strict=True))
                  for x, (o, t) in enumerate(zip(orow, trow, strict=True)) if o != t]  # fmt: skip
        assert not differ and ours_screen[1] == theirs_screen[1], differ[:5]
        assert len(ours.encode()) < 0.7 * len(theirs.encode()), (len(ours), len(theirs))

    await stream_while(make_app, fake_openai, measure, held=Gate())


def test_an_update_is_written_for_the_console_it_is_given() -> None:
    """The transitions a screen keeps are per colour system: written once for a 16-colour
    console, the same update is then written in truecolor for a truecolor one."""
    chops = {0: Strip([Segment("ab", Style(color="#ff8000", bgcolor="#102030")), Segment("c", Style(bold=True))])}
    update = ChopsUpdate([chops], [(0, 0, 3)], [[3]])
    shared = StyleChanges()
    standard = Console(color_system="standard", force_terminal=True)
    ChangesChopsUpdate(update, shared).render_segments(standard)
    assert ChangesChopsUpdate(update, shared).render_segments(CONSOLE) == ChangesChopsUpdate(
        update, StyleChanges()
    ).render_segments(CONSOLE)
