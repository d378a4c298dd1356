"""What a terminal shows after some output: pyte, a VT100/xterm emulator, plays it.

Used to check that two ways of writing an update (Textual's, and ui/terminal_output.py's
style and cursor changes) paint the same screen, cell by cell: character, colours and
the attributes pyte keeps (bold, italics, underline, strike-through, reverse, blink)."""

from __future__ import annotations

import pyte

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
