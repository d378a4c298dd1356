"""The frozen pieces of a streaming reply, as one widget.

A reply streams in pieces (ui/markdown_pieces.py): only the tail is re-rendered, the
pieces before it are frozen. Each frozen piece was a widget of its own, and Textual lays
out every widget of the pane at each layout (a jump of the pane, a cut): at 1,000 tokens/s
a layout took 14 ms with 12 pieces and 26 ms with 108, so a reply got dearer to stream
the longer it grew. Here they are one widget, whatever their number: a layout measures only
the pieces frozen since the last one, and painting renders only the lines asked for (each
piece rendered, highlighted, once, when a line of it is first painted).

Between two pieces that do not join, a blank line, as the pieces' margins made it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from functools import partial

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from textual.geometry import Size
from textual.strip import Strip

from codhechat.ui.markdown_pieces import Piece
from codhechat.ui.widgets.laid_out import SizedByLayout
from codhechat.ui.widgets.piece_view import RenderedOnce, code_theme, line_strip, piece_markdown, plain_height


class FrozenPieces(SizedByLayout):
    def __init__(self) -> None:
        super().__init__(classes="frozen-pieces")
        self.pieces: list[Piece] = []
        self._rendered: list[RenderedOnce] = []
        self._width = 0
        self._starts: list[int] = []  # the line each piece's text starts on, at _width
        self._height = 0

    def extend(self, pieces: Iterable[Piece]) -> None:
        for piece in pieces:
            self.pieces.append(piece)
            self._rendered.append(RenderedOnce(partial(self._build, piece)))
        self.refresh(layout=True)

    def _build(self, piece: Piece) -> RenderableType:
        return piece_markdown(piece, code_theme=code_theme(self))

    def _measure(self, width: int) -> None:
        """Place the pieces not yet placed at `width` (all of them when the width changed)."""
        if width != self._width:
            self._width, self._starts, self._height = width, [], 0
        for index in range(len(self._starts), len(self.pieces)):
            piece = self.pieces[index]
            gap = 0 if index == 0 or piece.joined else 1
            self._starts.append(self._height + gap)
            self._height += gap + plain_height(self.app, piece, width, code_theme(self))

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
