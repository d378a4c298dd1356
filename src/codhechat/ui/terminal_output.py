"""What a screen update writes to the terminal: style changes, not whole styles.

Textual writes every run of text in a line with its whole style and a reset
(`ESC[38;2;r;g;b;48;2;r;g;bm text ESC[0m`), and moves the cursor before every
widget's stretch of a line, also where the previous stretch left it. While a reply
streams, the pane is repainted whole at each jump, so at 1,000 tokens/s over half
of the bytes sent were escape sequences repeating the style already in force
(measured in a 120x40 pty: SGR sequences 56 % of the bytes, 5 of 7 cursor moves a
line going where the cursor was). Over SSH those bytes are what a slow link queues
keystrokes behind.

Here an update keeps track of the terminal's style and cursor as it writes: a run
whose style is the one in force is written bare; a change writes only what
changed (one colour, one attribute), or a reset and the new style when an
attribute goes off; and the cursor is moved only where it is not already. The
style is reset once, at the end, so what follows starts where Textual expects.
The screen that results is the same (`tests/ui/test_terminal_output.py` feeds
both outputs to a terminal emulator and compares every cell).

A cursor move is skipped only after a stretch of plain ASCII: a character whose
width the terminal might count otherwise (an emoji, a box-drawing line in a CJK
locale) would shift what follows, and Textual's own move at each stretch is what
puts it right.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.color import ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, LayoutUpdate

_ATTRIBUTES = (
    ("bold", "1"),
    ("dim", "2"),
    ("italic", "3"),
    ("underline", "4"),
    ("blink", "5"),
    ("blink2", "6"),
    ("reverse", "7"),
    ("conceal", "8"),
    ("strike", "9"),
    ("underline2", "21"),
    ("frame", "51"),
    ("encircle", "52"),
    ("overline", "53"),
)
State = tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]
"""What a style sets in the terminal: its attributes' SGR codes, its foreground's, its background's."""

_RESET = "\x1b[0m"
_DEFAULT: State = (frozenset(), (), ())
_CACHE_LIMIT = 4096


def style_state(style: Style | None, color_system: ColorSystem) -> State:
    if style is None:
        return _DEFAULT
    attributes = frozenset(code for name, code in _ATTRIBUTES if getattr(style, name))
    color, bgcolor = style.color, style.bgcolor
    foreground = tuple(color.downgrade(color_system).get_ansi_codes()) if color is not None else ()
    background = tuple(bgcolor.downgrade(color_system).get_ansi_codes(False)) if bgcolor is not None else ()
    return attributes, foreground, background


def transition(before: State, after: State) -> str:
    """The shortest SGR sequence that turns the terminal's style `before` into `after` ("" if
    none): only what changed, or a reset and the whole of `after` (the only way when an
    attribute goes off, and the shorter one when most of the style changes)."""
    if before == after:
        return ""
    attributes, foreground, background = after
    reset = f"\x1b[{';'.join(['0', *sorted(attributes), *foreground, *background])}m"
    if before[0] - attributes:  # an attribute goes off
        return reset
    codes = sorted(attributes - before[0])
    if foreground != before[1]:
        codes.extend(foreground or ("39",))
    if background != before[2]:
        codes.extend(background or ("49",))
    change = f"\x1b[{';'.join(codes)}m"
    return change if len(change) < len(reset) else reset


class StyleChanges:
    """The style transitions one screen's updates share, worked out once each (a screen
    uses a few dozen styles, so a few hundred pairs), per colour system: an update is
    written for the console it is given."""

    def __init__(self) -> None:
        self.transitions: dict[tuple[Style | None, Style | None, ColorSystem], str] = {}
        self.states: dict[tuple[Style | None, ColorSystem], State] = {}

    def change(self, before: Style | None, after: Style | None, color_system: ColorSystem) -> str:
        key = (before, after, color_system)
        if (change := self.transitions.get(key)) is None:
            if len(self.transitions) >= _CACHE_LIMIT:
                self.transitions.clear()
                self.states.clear()
            change = self.transitions[key] = transition(
                self.state(before, color_system), self.state(after, color_system)
            )
        return change

    def state(self, style: Style | None, color_system: ColorSystem) -> State:
        if (state := self.states.get((style, color_system))) is None:
            state = self.states[style, color_system] = style_state(style, color_system)
        return state

    def writer(self, console: Console) -> TerminalWriter:
        return TerminalWriter(console, self)


class TerminalWriter:
    """Escape sequences for a run of strips, from the style and cursor position in force."""

    def __init__(self, console: Console, changes: StyleChanges) -> None:
        self._color_system = console._color_system or ColorSystem.TRUECOLOR  # as Strip.render chooses it
        self._changes = changes
        self._style: Style | None = None  # the one in force (None: the terminal's default)
        self._cursor: tuple[int, int] | None = None  # where the last write left it, when known
        self.out: list[str] = []

    def move_to(self, x: int, y: int) -> None:
        if self._cursor != (x, y):
            self.out.append(f"\x1b[{y + 1};{x + 1}H")
        self._cursor = (x, y)

    def write(self, strip: Iterable[Segment], x: int, y: int) -> None:
        """Write `strip`'s segments with the cursor at (x, y)."""
        self.move_to(x, y)
        append, change, color_system = self.out.append, self._changes.change, self._color_system
        plain, width = True, 0
        for text, style, control in strip:
            if not text:
                continue
            if control:  # nothing Textual paints has these, but a strip may carry them
                append(text)
                plain = False
                continue
            if style is not self._style:
                append(change(self._style, style, color_system))
                self._style = style
            if style is not None and style._link:
                append(f"\x1b]8;id={style._link_id};{style._link}\x1b\\{text}\x1b]8;;\x1b\\")
            else:
                append(text)
            if plain:
                plain = text.isascii()
                width += len(text)
        self._cursor = (x + width, y) if plain else None

    def finish(self) -> str:
        if self._changes.state(self._style, self._color_system) != _DEFAULT:
            self.out.append(_RESET)
        return "".join(self.out)


class ChangesChopsUpdate(ChopsUpdate):
    """Textual's partial update, written as style and cursor changes."""

    def __init__(self, update: ChopsUpdate, changes: StyleChanges) -> None:
        super().__init__(update.chops, update.spans, update.chop_ends)
        self._changes = changes

    def render_segments(self, console: Console) -> str:
        writer = self._changes.writer(console)
        chops, chop_ends = self.chops, self.chop_ends
        for y, x1, x2 in self.spans:  # as ChopsUpdate.render_segments picks and crops them
            for end, (x, strip) in zip(chop_ends[y], chops[y].items(), strict=False):
                if strip is None or x > x2 or end <= x1:
                    continue
                if not (x2 > x >= x1 and end <= x2):
                    strip = strip.crop(0, min(end, x2) - x)
                writer.write(strip, x, y)
        return writer.finish()


class ChangesLayoutUpdate(LayoutUpdate):
    """Textual's full update, written as style and cursor changes."""

    def __init__(self, update: LayoutUpdate, changes: StyleChanges) -> None:
        super().__init__(update.strips, update.region)
        self._changes = changes

    def render_segments(self, console: Console) -> str:
        writer = self._changes.writer(console)
        x = self.region.x
        for y, line in enumerate(self.strips, self.region.y):
            offset = x
            for strip in line:
                writer.write(strip, offset, y)
                offset += strip.cell_length
        return writer.finish()
