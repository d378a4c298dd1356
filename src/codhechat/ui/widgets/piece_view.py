"""The rendering shared by message views: a renderable rendered once per width, and one
piece of a streaming reply (the live tail, repainted only where it changed, each of its
blocks rendered once complete: RenderedPiece).

A live piece keeps blank room below its text, StreamPace.jump_lines at a time, so the
pane following it scrolls in steps instead of on every line (each scroll repaints the
whole pane), and while the text grows within that room only its changed lines are
repainted, with no layout of the screen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from codhechat.ui.markdown_pieces import Cut, Piece, find_cut
from codhechat.ui.paragraph_growth import grown_paragraph, grows_plainly
from codhechat.ui.stream_pace import StreamPace
from codhechat.ui.themes import code_style
from codhechat.ui.widgets.laid_out import SizedByLayout
from codhechat.ui.widgets.line_painting import LinePainted, line_strip

if TYPE_CHECKING:
    from textual.app import App

    from codhechat.ui.piece_markdown import PieceMarkdown

# Where a live piece's head is settled (RenderedPiece): between two paragraphs (not inside
# a code fence: a fence's edges render apart unlike together in cases hypothesis keeps
# finding, an unfinished line that closes it). A line that could begin anything else does not count as a paragraph's: how a
# block renders alone can differ from how it does in the whole at its edges (a rule ends
# with a blank line, a quote begins with one, a list's look depends on its later items).
PARAGRAPH_LINE = re.compile(r"[^\s#>*+\-`~|<=_\[\\\d]")
DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:", re.MULTILINE)  # a link reference definition: it links the rest too
# A live piece's code is highlighted this long after the piece stops growing (as the frozen
# pieces of a burst are, a moment after the burst is shown: frozen_pieces.SETTLE_S).
HIGHLIGHT_AFTER_S = 0.1


def piece_markdown(piece: Piece, *, code_theme: str, highlight: bool = True) -> RenderableType:
    """rich's Markdown for a piece (ui/piece_markdown.py), imported with the first message
    rendered: the first frame, which shows none, does without Markdown and Pygments."""
    from codhechat.ui.piece_markdown import PieceMarkdown

    return PieceMarkdown(piece, code_theme=code_theme, highlight=highlight)


WARM_UP_REPLY = "A **reply**, `code` and [a link](https://example.org):\n\n- an item\n\n1. a step\n\n```python\ndef f(x):\n    return x\n```\n"


def warm_up_rendering(theme: str) -> None:
    """Cut and render a small reply once, highlighted and not, off the event loop (the app
    runs it when the user pauses): the first reply's first frame otherwise pays ~0.1 s for
    importing markdown-it and rich's Markdown and loading Pygments' lexer and style, in the
    middle of its stream."""
    piece = Piece(WARM_UP_REPLY)
    find_cut(piece)
    with open(os.devnull, "w", encoding="utf-8") as nowhere:
        console = Console(file=nowhere, width=40, color_system="truecolor")
        for highlight in (False, True):
            console.print(piece_markdown(piece, code_theme=theme, highlight=highlight))


def plain_lines(app: App[object], piece: Piece, width: int, theme: str) -> tuple[list[list[Segment]], bool]:
    """`piece`'s lines at `width`, rendered without syntax highlighting (which never changes
    line breaks), so that a frozen piece is highlighted only if it is ever shown; and whether
    it has a code block. Without one, these are the very lines painted (RenderedOnce.seed):
    a piece is then rendered once, not once to measure and again to paint."""
    plain = cast("PieceMarkdown", piece_markdown(piece, code_theme=theme, highlight=False))
    options = app.console_options.update_width(width).update(height=None)
    return app.console.render_lines(plain, options, pad=False), plain.has_code


def changed_rows(before: list[list[Segment]], after: list[list[Segment]], width: int) -> Region:
    """The rows from the first line that differs to the last of either: what a live widget
    whose lines went from `before` to `after` must repaint (empty: nothing changed)."""
    same = next((i for i, (old, new) in enumerate(zip(before, after, strict=False)) if old != new),
                min(len(before), len(after)))  # fmt: skip
    return Region(0, same, width, max(len(before), len(after)) - same)


def stream_pace(widget: Widget) -> StreamPace:
    return getattr(widget.app, "stream_pace", None) or StreamPace()


def code_theme(widget: Widget) -> str:
    return code_style(widget.app)  # follows the app's theme (ui/themes.py)


class RenderedOnce:
    """Renders a renderable once per width and code theme.

    Textual renders a widget's content once to measure its height and again to
    paint it; for rich Markdown, with syntax highlighting, that doubles the cost.
    """

    def __init__(self, build: Callable[[], RenderableType]) -> None:
        self._build = build
        self._key: tuple[int, str] | None = None
        self._lines: list[list[Segment]] = []

    def invalidate(self) -> None:
        self._key = None

    def seed(self, lines: list[list[Segment]], width: int, theme: str) -> None:
        """Take `lines`, rendered elsewhere at `width` (to measure: plain_lines), as its own."""
        self._lines, self._key, self._theme = lines, (width, theme), theme

    def get(self, theme: str) -> RenderedOnce:
        if self._key is not None and self._key[1] != theme:
            self._key = None
        self._theme = theme
        return self

    def lines(self, console: Console, options: ConsoleOptions) -> list[list[Segment]]:
        """Its lines at `options.max_width` (rendered now, and kept for painting)."""
        self._render(console, options)
        return self._lines

    def _render(self, console: Console, options: ConsoleOptions) -> None:
        key = (options.max_width, self._theme)
        if key != self._key:
            self._lines = self._render_lines(console, options.update(height=None))
            self._key = key

    def _render_lines(self, console: Console, options: ConsoleOptions) -> list[list[Segment]]:
        return console.render_lines(self._build(), options, pad=False)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self._render(console, options)
        newline = Segment.line()
        for line in self._lines:
            yield from line
            yield newline


class RenderedPiece(RenderedOnce):
    """A piece's lines; while it is live, what is complete of it is rendered once, and only
    the rest again at each frame.

    The live tail holds up to HOLD_MAX_CHARS until a jump cuts it, and rendering all of it
    each frame (1.4 ms for 3,000 characters, mostly re-wrapping paragraphs that no longer
    change) was the largest part of a frame. What is appended goes to the unsettled rest,
    which is cut at its latest safe point (find_cut, as a reply is cut into pieces) when
    that point is between two paragraphs (`_settles`): the head's
    lines are kept. Elsewhere a block alone can render unlike the same block in the whole
    (a rule ends with a blank line, a quote begins with one, a list's look depends on its
    later items), so tests/unit/test_markdown_pieces.py grows random Markdown in random
    steps and compares with the whole at every step. The whole piece is rendered again
    when it stops being live (code is then highlighted), or when its text is not the last
    one's grown."""

    def __init__(self, piece: Callable[[], tuple[Piece, bool]], theme: Callable[[], str]) -> None:
        super().__init__(self._whole)
        self._piece = piece  # (the piece shown, whether it is live)
        self._theme_of = theme
        self._settled_for: tuple[bool, bool, int, str] | None = None  # (joined, fence_above, width, theme)
        self._source = ""  # the live piece's text as last rendered
        self._rest = Piece("")  # its part not settled yet
        self._settled: list[list[Segment]] = []  # the settled part's lines
        self._rest_lines: list[list[Segment]] = []  # the rest's, as last rendered
        self._unended = False  # settled before a line not yet ended (_settling_cut)

    def _whole(self) -> RenderableType:
        piece, live = self._piece()
        return piece_markdown(piece, code_theme=self._theme_of(), highlight=not live)

    def _render_lines(self, console: Console, options: ConsoleOptions) -> list[list[Segment]]:
        piece, live = self._piece()
        if not live:
            self._settled_for, self._rest_lines = None, []
            return super()._render_lines(console, options)
        theme = self._theme_of()
        settled_for = (piece.joined, piece.fence_above, options.max_width, theme)
        grown = piece.source[len(self._source) :]
        growing = settled_for == self._settled_for and piece.source.startswith(self._source)
        self._source = piece.source
        if growing and self._still_settled(grown):
            rest = self._rest
            self._rest = Piece(rest.source + grown, rest.joined, rest.fence_above, piece.fence_below)
            if self._rest_lines and grows_plainly(
                rest.source, grown, fence_above=rest.fence_above, width=options.max_width
            ):
                # a paragraph lengthened by plain words: only its last line is wrapped again
                # (nor can a paragraph be cut: find_cut would find nothing)
                self._rest_lines = grown_paragraph(self._rest_lines, rest.source, grown, console, options)
                return [*self._settled, *self._gap(self._rest), *self._rest_lines]
        else:
            self._settled_for, self._rest, self._settled, self._unended = settled_for, piece, [], False
        if cut := self._settling_cut():
            self._settled += self._gap(cut.head) + self._render_piece(console, options, cut.head, theme)
            self._rest = cut.tail
        self._rest_lines = self._render_piece(console, options, self._rest, theme)
        return [*self._settled, *self._gap(self._rest), *self._rest_lines]

    def _still_settled(self, grown: str) -> bool:
        """Whether what was settled before a line not yet ended (`_settling_cut`) still is,
        with `grown` appended: unless that line became a table's header row (a `|` in it)."""
        if not self._unended:
            return True
        first, ended, _ = (self._rest.source + grown).partition("\n")
        if "|" in first:
            return False
        self._unended = not ended
        return True

    def _settling_cut(self) -> Cut | None:
        """The rest's latest cut that settles. The paragraph being written is on a line not
        yet ended, and find_cut cuts only before ended lines, so the paragraph before it would
        be rendered again with it at every frame: that cut is looked for as if the line were
        ended. The line begins a paragraph, which the rest of it cannot change, unless it
        turns out to be a table's header row (`_still_settled`)."""
        rest = self._rest
        if (cut := find_cut(rest)) and self._settles(cut):
            return cut
        if rest.source.endswith("\n") or "\n" not in rest.source:
            return None
        ended = find_cut(Piece(rest.source + "\n", rest.joined, rest.fence_above, rest.fence_below))
        if ended is None or not self._settles(ended) or len(ended.tail.source) < 2:
            return None
        tail = ended.tail
        self._unended = "\n" not in tail.source[:-1]
        return Cut(ended.head, Piece(tail.source[:-1], tail.joined, tail.fence_above, tail.fence_below))

    @staticmethod
    def _settles(cut: Cut) -> bool:
        """Whether the head renders alone as it does in the whole (tests/unit/test_markdown_pieces.py
        grows random Markdown and compares)."""
        if DEFINITION.search(cut.head.source):
            return False
        if not cut.head.source.endswith("\n\n"):
            return False  # blocks not apart: a table's first row may follow a paragraph's line
        if "|" in cut.tail.source.partition("\n")[0]:
            return False  # a table's header row (rich opens a table with a blank line of its own)
        last = cut.head.source.rstrip("\n").rpartition("\n")[2]
        return bool(PARAGRAPH_LINE.match(last) and PARAGRAPH_LINE.match(cut.tail.source))

    def _gap(self, piece: Piece) -> list[list[Segment]]:
        """The blank line before a piece that does not join the one above (none at the top)."""
        return [[]] if self._settled and not piece.joined else []

    @staticmethod
    def _render_piece(console: Console, options: ConsoleOptions, piece: Piece, theme: str) -> list[list[Segment]]:
        return console.render_lines(piece_markdown(piece, code_theme=theme, highlight=False), options, pad=False)


class MarkdownPiece(SizedByLayout, LinePainted):
    """One piece of a streaming reply; only the last piece is ever re-rendered."""

    def __init__(self, piece: Piece, *, live: bool = False, ended: bool = False) -> None:
        """`ended`: the last piece of a reply that just ended (its code is highlighted a
        moment after it is shown, as when a live piece stops growing)."""
        super().__init__(classes="piece joined" if piece.joined else "piece")
        self.piece = piece
        self.live = live  # the growing tail: code is highlighted once it stops growing
        self._rendered = RenderedPiece(lambda: (self.piece, self.live), lambda: code_theme(self))
        self._height_key: tuple[int, Piece] | None = None
        self._height = 0
        self._room = 0  # lines kept for it while live (StreamPace.jump_lines at a time)
        self._carry: int | None = None  # blank lines to keep at its next room (restart: a cut)
        self._ended = ended  # it stopped growing: shown as it streamed (plain) until highlighted

    def set_piece(self, piece: Piece, *, live: bool) -> bool:
        """Show `piece`. While it grows within the room it has, only its lines that changed
        are repainted: no layout of the screen, no repaint of the pane (most of a frame's cost).
        True when it needs a layout (it outgrew its room, or it is not a live piece growing)."""
        was_live, self.piece, self.live = self.live, piece, live
        self._ended = self._ended or (was_live and not live)
        width, height = self.content_size
        before = self._rendered.lines(self.app.console, self._options(width)) if was_live and width else []
        self._rendered.invalidate()
        if not live:
            self._room = 0
        elif was_live and width and self.is_mounted:
            after = self._rendered.get(code_theme(self)).lines(self.app.console, self._options(width))
            changed = changed_rows(before, after, width)
            if len(after) <= height:
                if changed:
                    self.refresh(changed)
                return False
            self.refresh(changed, layout=True)  # its new room below is drawn when it is given (laid_out.py)
            return True
        self.refresh(layout=True)
        return True

    def restart(self, piece: Piece, *, live: bool, carry: int | None) -> None:
        """Show `piece`, the rest of the one shown, whose head was frozen (into the
        FrozenPieces above): keep `carry` blank lines below it, those it kept, so the pane
        does not move at the cut."""
        self._ended = self._ended or (self.live and not live)
        self.piece, self.live = piece, live
        self.set_class(piece.joined, "joined")
        self.remove_class("first")
        self._rendered.invalidate()
        self._room, self._carry = 0, carry
        self.refresh(layout=True)

    def spare_room(self) -> int:
        """Blank lines kept below its text (while live)."""
        width = self.content_size.width
        if not (self.live and width):
            return 0
        return max(
            0, self._room - len(self._rendered.get(code_theme(self)).lines(self.app.console, self._options(width)))
        )

    def _jump(self, width: int, screen_rows: int) -> int:
        """Blank lines to make below the text: jump_lines (counting the new one), more when the
        reply is faster: a second's worth, up to half the screen. Each jump is a layout and a
        repaint of the pane (~7 ms at 120x40), and at 200 tokens/s half a second's worth
        made them two and a half a second, a quarter of the app's CPU while it streamed.
        A jump_lines of 1 is line by line, however fast."""
        pace = stream_pace(self)
        if pace.jump_lines <= 1:
            return 0
        owner = self.parent.parent if self.parent else None
        chars_per_s = getattr(owner, "chars_per_s", 0.0)
        fast = min(screen_rows // 2, int(chars_per_s / max(1, width)))
        return max(pace.jump_lines - 1, fast)

    def _options(self, width: int) -> ConsoleOptions:
        return self.app.console_options.update_width(width)

    def render(self) -> RenderableType:
        return self._rendered.get(code_theme(self))

    def render_line(self, y: int) -> Strip:
        """A line of the live piece, made from its rendered lines alone.

        Textual re-renders all of a widget's content when any part of it is dirty (the whole
        piece split into lines again, then cut into strips), though set_piece marked only
        the lines that changed and only those are asked for: here each is made on its own,
        styled as Textual's RichVisual would (the widget's style under the text's, links
        styled for hover; tests/ui/test_stream_frames.py compares the two). A frozen
        piece, a selection or an alignment take Textual's way."""
        width = self.content_size.width
        if (
            not self.live
            or not width
            or self.text_selection is not None
            or self.styles.content_align != ("left", "top")
        ):
            return super().render_line(y)
        self._dirty_regions.clear()  # Widget.render_line's cue to render everything again
        lines = self._rendered.get(code_theme(self)).lines(self.app.console, self._options(width))
        return line_strip(self, lines[y] if y < len(lines) else None, width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """Measure without syntax highlighting, which never changes line breaks:
        a frozen piece is then highlighted only if it is ever on screen.

        A piece that just stopped growing (the reply's end) is painted with the lines
        measured, plain as it streamed, and highlighted HIGHLIGHT_AFTER_S later: the paint
        that showed a code reply's end highlighted it first, up to 40 ms of the 40-110 ms
        between the reply's last byte and its end on screen (5,000 tokens/s of code, traced)."""
        if self.live and width:
            shown = len(self._rendered.get(code_theme(self)).lines(self.app.console, self._options(width)))
            if shown > self._room:
                step = self._carry if self._carry is not None else self._jump(width, viewport.height)
                self._room = shown + step
                self._carry = None
            return self._room
        if not width:
            return super().get_content_height(container, viewport, width)
        key = (width, self.piece)
        if self._height_key != key:
            theme = code_theme(self)
            lines, has_code = plain_lines(self.app, self.piece, width, theme)
            if not has_code or self._ended:
                self._rendered.seed(lines, width, theme)
            if has_code and self._ended:
                self.set_timer(HIGHLIGHT_AFTER_S, self._highlight)
            self._ended = False
            self._height, self._height_key = len(lines), key
        return self._height

    def _highlight(self) -> None:
        """Paint its code highlighted (its lines stay where they are)."""
        if not self.live:
            self._rendered.invalidate()
            self.refresh()
