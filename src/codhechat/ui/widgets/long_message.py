"""A stored reply too long to render whole when shown (a 2,000-line code fence, a
5,000-line answer): it is cut into pieces like a streaming reply's
(codhechat.ui.markdown_pieces), which render as the whole would, and only the pieces
on screen, plus a margin, are ever rendered; the height of every other piece is
estimated from its text.

Opening the conversation then costs about a screen's worth of rendering, whatever the
reply's length. A piece is rendered for real (its true height replaces the estimate)
when it is painted, together with MARGIN pieces either side of it, so that scrolling
reaches pieces already measured; when a measured piece above what is shown changes
height, the pane scrolls by the difference so the text being read stays in place.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from rich.console import Group, RenderableType
from textual import events
from textual.app import ComposeResult
from textual.containers import ScrollableContainer, Vertical
from textual.geometry import Size
from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import Static

from codhechat.models import Message
from codhechat.textsafe import visible
from codhechat.ui import graphics
from codhechat.ui.markdown_pieces import PIECE_CHARS, Piece
from codhechat.ui.transcript import Entry, SentPrompt
from codhechat.ui.widgets import messages
from codhechat.ui.widgets.branches import BranchStep, step_at
from codhechat.ui.widgets.messages import MarkdownPiece, MessageView

LONG_CHARS = 4 * PIECE_CHARS  # a stored reply longer than this is shown in pieces
LAZY_PIECE_CHARS = 2 * PIECE_CHARS  # bigger than a streaming reply's: fewer widgets to lay out
MARGIN = 2  # pieces measured either side of one being painted (a piece is ~20-40 lines)
FENCES = ("```", "~~~")


def view_of(entry: Entry) -> Widget:
    """A new view of a window entry: as messages.view_of, but a long stored reply in pieces,
    and a stored message with images with their thumbnails (where the terminal draws them)."""
    if isinstance(entry, Message) and is_long(entry):
        return LongMessageView(entry)
    if isinstance(entry, Message) and graphics.current and any(a.kind == "image" for a in entry.attachments):
        from codhechat.ui.widgets.thumbnail import ThumbnailedMessageView

        return ThumbnailedMessageView(entry, graphics.current)
    if isinstance(entry, SentPrompt) and graphics.current and entry.images:
        from codhechat.ui.widgets.thumbnail import PendingWithImages

        return PendingWithImages(entry, graphics.current)
    return messages.view_of(entry)


def is_long(message: Message) -> bool:
    return message.role == "assistant" and len(message.content) > LONG_CHARS


def pieces_of(source: str, size: int = LAZY_PIECE_CHARS) -> list[Piece]:
    """`source` in pieces of about `size` characters, cut by a line scan, not a Markdown
    parse (parsing a 500 KB reply takes a second: only the pieces shown are parsed).

    A cut falls on a blank line followed by an unindented one (between top-level blocks),
    or between two lines of a code fence, which is then closed above the cut and reopened
    below it, as a streaming reply's pieces are (codhechat.ui.markdown_pieces)."""
    pieces: list[Piece] = []
    lines = source.splitlines(keepends=True)
    head: list[str] = []
    chars, fence, fence_above, joined = 0, "", False, False  # fence: the open fence's opening line
    for index, line in enumerate(lines):
        head.append(line)
        chars += len(line)
        stripped = line.strip()
        if stripped.startswith(FENCES):
            if not fence:
                fence = line if line.endswith("\n") else line + "\n"
            elif stripped == stripped[0] * len(stripped) and stripped.startswith(_marker(fence)):
                fence = ""  # a closing fence: the opening's character, at least as many
            continue
        if chars < size or index + 1 >= len(lines):
            continue
        following = lines[index + 1]
        if fence and not fence[0].isspace() and not following.strip().startswith(FENCES):  # between lines of code
            # (not in an indented fence: that is inside a list item, which a cut would end)
            closed = "".join(head) + ("" if line.endswith("\n") else "\n")
            pieces.append(Piece(closed + f"{_marker(fence)}\n", joined, fence_above, True))
            head, chars, fence_above, joined = [fence], 0, True, True
        elif not fence and not stripped and following.strip() and not following[0].isspace():
            pieces.append(Piece("".join(head), joined, fence_above, False))
            head, chars, fence_above, joined = [], 0, False, False
    if head:
        pieces.append(Piece("".join(head), joined, fence_above, False))
    return pieces


def _marker(fence: str) -> str:
    """The run of backticks or tildes that opens a fence (its closing must match it)."""
    opening = fence.strip()
    return opening[: len(opening) - len(opening.lstrip(opening[0]))]


def estimated_height(piece: Piece, width: int) -> int:
    """Lines the piece takes at `width`, from its text alone: each line wrapped at the width
    (code at the width less its padding), a line between blocks. Near enough to place the
    scrollbar; a piece is measured for real before it is seen."""
    width = max(width, 8)
    lines, in_fence = 0, piece.fence_above
    for line in piece.source.splitlines():
        stripped = line.strip()
        if stripped.startswith(FENCES):
            in_fence = not in_fence
            lines += 1  # the code block's padding
            continue
        lines += math.ceil(max(len(line), 1) / ((width - 2) if in_fence else width))
    return max(lines, 1)


class LazyPiece(MarkdownPiece):
    """A piece whose height is estimated until it comes near the screen."""

    def __init__(self, piece: Piece, owner: LongMessageView, index: int) -> None:
        super().__init__(piece)
        self.owner, self.index = owner, index
        self.measured = False
        self._estimate = (0, 0)  # (width, lines)

    def estimate(self, width: int) -> int:
        if self._estimate[0] != width:
            self._estimate = (width, estimated_height(self.piece, width))
        return self._estimate[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self.measured:
            return super().get_content_height(container, viewport, width)
        return self.estimate(width)

    def render(self) -> RenderableType:
        # Painted: it is on screen. It and its neighbours are measured (once each).
        self.owner.measure_around(self.index)
        return super().render()

    def measure(self) -> int:
        """Switch to the true height; returns how many lines it grew by (or shrank, < 0)."""
        if self.measured:
            return 0
        width = self.content_size.width
        before = self.estimate(width) if width else 0
        self.measured = True
        if not width:
            return 0
        after = super().get_content_height(Size(width, 0), Size(width, 0), width)
        if after != before:
            self.refresh(layout=True)
        return after - before


class LongMessageView(MessageView):
    """A long stored reply: its header, its pieces (LazyPiece), its notice."""

    def __init__(self, message: Message) -> None:
        super().__init__(message)
        self.add_class("long")
        self._pieces = pieces_of(visible(message.content))

    def render(self) -> VisualType:
        return Widget.render(self)  # a container: the children draw the message

    def _head(self) -> RenderableType:
        return Group(*self.head_parts())

    def compose(self) -> ComposeResult:
        yield Static(self._head(), classes="head")
        with Vertical(classes="pieces"):
            yield from self._lazy_pieces()
        notice = Static(self.notice or "", classes="notice")
        notice.display = self.notice is not None
        yield notice

    def _lazy_pieces(self) -> Iterator[LazyPiece]:
        for index, piece in enumerate(self._pieces):
            lazy = LazyPiece(piece, self, index)
            if index == 0:
                lazy.add_class("first")
            yield lazy

    def on_mount(self) -> None:
        # Opened, the pane shows the newest lines: the last pieces are measured at once.
        pieces = self.query(LazyPiece)
        if pieces:
            self.measure_around(len(pieces) - 1)

    def on_click(self, event: events.Click) -> None:
        if step := step_at(event, self, *self.header_line()):
            self.post_message(BranchStep(self.message, step))
        elif self.message.reasoning:
            self.show_thinking = not self.show_thinking
            self.query_one(".head", Static).update(self._head())

    def measure_around(self, index: int) -> None:
        """Measure the pieces within MARGIN of `index`; keep the reader's place if any of
        those above the screen changed height."""
        pieces = list(self.query(LazyPiece))
        pane = next((a for a in self.ancestors if isinstance(a, ScrollableContainer)), None)
        shift = 0
        for piece in pieces[max(0, index - MARGIN) : index + MARGIN + 1]:
            above = pane is not None and piece.region.bottom <= pane.region.y
            grew = piece.measure()
            if above:
                shift += grew
        # Following the bottom (just opened), the pane keeps the newest lines in place itself.
        following = pane is not None and pane.is_anchored and pane.scroll_y >= pane.max_scroll_y - 1
        if shift and pane is not None and not following:
            target = pane.scroll_y + shift
            self.call_after_refresh(pane.scroll_to, y=target, animate=False, immediate=True)
