"""What a terminal shows after some output: pyte, a VT100/xterm emulator, plays it.

Used to check that two ways of writing an update (Textual's, and ui/terminal_output.py's
style and cursor changes) paint the same screen, cell by cell: character, colours and
the attributes pyte keeps (bold, italics, underline, strike-through, reverse, blink)."""

from __future__ import annotations

from collections.abc import Iterable

import pyte
from textual.strip import Strip

Cell = tuple[str, str, str, bool, bool, bool, bool, bool, bool]


def screen_after(output: str, columns: int, rows: int) -> tuple[list[list[Cell]], Cell]:
    """Every cell of a blank `columns` x `rows` screen once `output` is written to it, and
    the style the terminal is left in (what text written next would get)."""
    screen = pyte.Screen(columns, rows)
    pyte.Stream(screen).feed(output)
    cells = [[_cell(screen.buffer[y][x]) for x in range(columns)] for y in range(rows)]
    return cells, _cell(screen.cursor.attrs)


def _cell(char: pyte.screens.Char) -> Cell:
    return (char.data, char.fg, char.bg, char.bold, char.italics, char.underscore, char.strikethrough,
            char.reverse, char.blink)  # fmt: skip


def forget_rendered_styles(strips: Iterable[Strip | None]) -> None:
    """Drop the SGR codes rich caches on each style (`Style._ansi`), for Textual's writer to
    work them out again for the console it is given. Textual's `Strip.render` reuses them
    whatever console they were made for, and its CSS styles are shared by every app in the
    process: a test that renders with a truecolor console after another rendered with a
    16-colour one would otherwise compare against 16-colour codes."""
    for strip in strips:
        for segment in strip or ():
            if segment.style is not None:
                segment.style._ansi = None
