"""The frozen pieces of a streaming reply, as one widget.

A reply streams in pieces (ui/markdown_pieces.py): only the tail is re-rendered, the
pieces before it are frozen. Each frozen piece was a widget of its own, and Textual lays
out every widget of the pane at each layout (a jump of the pane, a cut): at 1,000 tokens/s
a layout took 14 ms with 12 pieces and 26 ms with 108, so a reply got dearer to stream
the longer it grew. Here they are one widget, whatever their number: a layout measures only
the pieces frozen since the last one, and painting renders only the lines asked for (each
piece rendered, highlighted, once, when a line of it is first painted).

Between two pieces that do not join, a blank line, as the pieces' margins made it.

Measuring a piece is rendering it (2.5-3.5 ms for 1,500 characters of a list or code), and
a reply that arrives in one burst brings 15-20 pieces to its next layout: measuring them
all was most of the time between the burst's last byte and its end on screen. While the
pane follows the reply's bottom, only the newest pieces can be in view: those are
measured, the older ones' heights estimated from their text, and measured in the
background a slice at a time once the burst is shown (`SETTLE_S`), which moves nothing
in view (the pane holds its bottom). A pane not following (the user scrolled up) has
every piece measured before it is laid out or painted.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterable
from functools import partial
from itertools import accumulate

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from textual.geometry import Region, Size
from textual.strip import Strip

from codhechat.ui.markdown_pieces import Piece
from codhechat.ui.widgets.laid_out import SizedByLayout
from codhechat.ui.widgets.line_painting import LinePainted, line_strip
from codhechat.ui.widgets.piece_view import RenderedOnce, code_theme, piece_markdown, plain_lines

SETTLE_S = 0.1  # after a layout that estimated, the estimated pieces are measured this much later,
SETTLE_SLICE_S = 0.008  # this long at a time (a key pressed meanwhile waits no longer)


def estimated_height(piece: Piece, width: int) -> int:
    """About the lines `piece` takes at `width`: each line of its text wrapped at `width`."""
    return sum(len(line) // width + 1 for line in piece.source.splitlines()) or 1


class FrozenPieces(SizedByLayout, LinePainted):
    def __init__(self) -> None:
        super().__init__(classes="frozen-pieces")
        self.pieces: list[Piece] = []
        self._rendered: list[RenderedOnce] = []
        self._width = 0
        self._heights: list[int] = []  # each piece's lines at _width (measured, or estimated)
        self._estimated: set[int] = set()  # the pieces whose height is an estimate
        self._unhighlighted: set[int] = set()  # pieces of a burst painted plain until highlighted (_settle)
        self._settling = False  # their measuring is due (a timer)
        self._starts: list[int] = []  # the line each piece's text starts on, at _width
        self._height = 0

    def extend(self, pieces: Iterable[Piece]) -> None:
        for piece in pieces:
            self.pieces.append(piece)
            self._rendered.append(RenderedOnce(partial(self._build, piece)))
        self.refresh(layout=True)

    @property
    def settled(self) -> bool:
        """Whether every piece's height is measured, none estimated."""
        return not self._estimated

    def _build(self, piece: Piece) -> RenderableType:
        return piece_markdown(piece, code_theme=code_theme(self))

    def _measure(self, width: int) -> None:
        """Place the pieces not yet placed at `width` (all of them when the width changed)."""
        if width != self._width:
            self._width, self._heights, self._estimated, self._unhighlighted = width, [], set(), set()
        new = range(len(self._heights), len(self.pieces))
        if not new and not self._estimated:
            return
        theme, burst = code_theme(self), len(new) > 1
        if not self._follows_bottom():
            self._heights.extend(self._measured(index, theme, burst=burst) for index in new)
            self._settle_now(theme)
        else:
            self._heights.extend(estimated_height(self.pieces[index], width) for index in new)
            self._estimated.update(new)
            room = self.app.size.height  # lines that can be in view, at most: those measured
            for index in reversed(range(len(self.pieces))):
                if room <= 0:
                    break
                if index in self._estimated:
                    self._estimated.discard(index)
                    self._heights[index] = self._measured(index, theme, burst=burst)
                room -= self._heights[index]
        if (self._estimated or self._unhighlighted) and not self._settling:
            self._settling = True
            self.set_timer(SETTLE_S, self._settle)
        self._place()

    def _measured(self, index: int, theme: str, *, burst: bool = False) -> int:
        """The lines piece `index` takes at _width. Its plain lines are those it paints when
        it has no code, and until it is highlighted (_settle) when it came in a burst: the
        burst's end then shows without highlighting two or three pieces (~10 ms each)."""
        lines, has_code = plain_lines(self.app, self.pieces[index], self._width, theme)
        if not has_code or burst:
            self._rendered[index].seed(lines, self._width, theme)
            if has_code:
                self._unhighlighted.add(index)
        return len(lines)

    def _follows_bottom(self) -> bool:
        """Whether the pane showing these pieces keeps its bottom in view (MessagePane)."""
        return any(getattr(widget, "follows_bottom", False) for widget in self.ancestors)

    def _settle_now(self, theme: str, until: float | None = None) -> bool:
        """Measure estimated pieces, newest first (until `until`); whether any height changed."""
        changed = False
        for index in sorted(self._estimated, reverse=True):
            if until is not None and time.perf_counter() > until:
                break
            self._estimated.discard(index)
            height = self._measured(index, theme)
            changed = changed or height != self._heights[index]
            self._heights[index] = height
        return changed

    def _settle(self) -> None:
        """A slice of the estimated pieces measured, the plain ones highlighted (each when it
        is next painted: only those in view are rendered); the rest a little later."""
        self._settling = False
        if not self.is_mounted:
            return
        for index in self._unhighlighted:
            self._rendered[index].invalidate()
            self.refresh(Region(0, self._starts[index], self._width, self._heights[index]))
        self._unhighlighted.clear()
        if self._estimated and self._settle_now(code_theme(self), until=time.perf_counter() + SETTLE_SLICE_S):
            self._place()
            self.refresh(layout=True)
        if self._estimated:
            self._settling = True
            self.set_timer(SETTLE_S, self._settle)

    def _place(self) -> None:
        gaps = (0 if index == 0 or piece.joined else 1 for index, piece in enumerate(self.pieces))
        ends = list(accumulate(gap + height for gap, height in zip(gaps, self._heights, strict=False)))
        self._starts = [end - height for end, height in zip(ends, self._heights, strict=True)]
        self._height = ends[-1] if ends else 0

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not width:
            return 0
        self._measure(width)
        return self._height

    def _line(self, y: int, width: int) -> list[Segment] | None:
        self._measure(width)
        index = bisect_right(self._starts, y) - 1
        if index < 0:
            return None
        if index in self._estimated:  # in view after all (the pane stopped following): all measured
            if self._settle_now(code_theme(self)):
                self._place()
                self.refresh(layout=True)
            index = bisect_right(self._starts, y) - 1
        line = y - self._starts[index]
        lines = self._rendered[index].get(code_theme(self)).lines(self.app.console, self._options(width))
        return lines[line] if line < len(lines) else None  # None: the blank line between pieces

    def _options(self, width: int) -> ConsoleOptions:
        return self.app.console_options.update_width(width)

    def render_line(self, y: int) -> Strip:
        """A line of one piece, made from that piece's rendered lines alone (as a live
        MarkdownPiece's are); a selection or an alignment take Textual's way, which
        renders them all."""
        width = self.content_size.width
        if not width or self.text_selection is not None or self.styles.content_align != ("left", "top"):
            return super().render_line(y)
        self._dirty_regions.clear()  # Widget.render_line's cue to render everything again
        return line_strip(self, self._line(y, width), width)

    def render(self) -> RenderableType:
        return _AllLines(self)


class _AllLines:
    """Every line of the frozen pieces (what a selection is made in)."""

    def __init__(self, frozen: FrozenPieces) -> None:
        self._frozen = frozen

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        frozen, width = self._frozen, options.max_width
        frozen._measure(width)
        newline = Segment.line()
        for y in range(frozen._height):
            yield from frozen._line(y, width) or ()
            yield newline
