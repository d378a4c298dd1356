"""Stream Markdown in bounded pieces, so a reply of any length renders in O(n).

Re-rendering a growing reply on every update is quadratic, and so is
re-parsing its last block when that block is one long list or code fence.
Instead a streaming reply is a run of *pieces*: only the last one (the tail)
is re-rendered as text arrives; once it grows past PIECE_CHARS it is cut at
the latest safe point (between top-level blocks, between top-level list
items, or between lines of a code fence) and the head is frozen for good.
A fence cut in two is closed in the head and reopened in the tail, and the
two halves render without padding between them, so the cut is invisible.
"""

from __future__ import annotations

from dataclasses import dataclass

PIECE_CHARS = 1500
START_CHARS = 500  # what _starts_block reads of a tail


@dataclass(frozen=True, slots=True)
class Piece:
    """A self-contained slice of Markdown and how it joins its neighbours."""

    source: str
    joined: bool = False  # continues the previous piece: no blank line between
    fence_above: bool = False  # starts inside a code fence cut above
    fence_below: bool = False  # ends inside a code fence cut below


@dataclass(frozen=True, slots=True)
class Cut:
    head: Piece
    tail: Piece


def find_cut(piece: Piece, within: int | None = None) -> Cut | None:
    """The latest safe cut of `piece` that leaves whole lines in the head.

    With `within`, only the first `within` characters (rounded up to a whole
    line) are parsed and cut, which bounds both the parse and the head's size.
    """
    source = piece.source
    window = source
    if within is not None and (end := source.find("\n", within)) >= 0:
        window = source[: end + 1]
    lines = window.splitlines(keepends=True)
    complete = len(lines) if window.endswith("\n") else len(lines) - 1
    best: int | None = None
    fence = None
    from codhechat.markdown import markdown_parser

    for token in markdown_parser().parse(window):
        if token.map is None:
            continue
        start, end = token.map
        block = token.level == 0 and token.nesting >= 0
        item = token.type == "list_item_open" and token.level == 1
        if (block or item) and 0 < start < complete and (best is None or start > best):
            best, fence = start, None
        if token.type == "fence" and token.level == 0:
            closed = end - 1 > start and lines[end - 1].strip().startswith(token.markup)
            body_end = end - 1 if closed else end  # first line past the code
            cut = min(body_end, complete - 1)  # keep a line in the tail: never empty
            # rich drops a code block's trailing blank lines: a head must not end with one
            # (it would vanish), nor the tail's complete code lines be only those (a blank
            # line would show; an unfinished line may yet close the fence)
            while cut > start + 1 and not lines[cut - 1].strip():
                cut -= 1
            if (
                cut > start + 1
                and any(line.strip() for line in lines[cut : min(body_end, complete)])
                and (best is None or cut > best)
            ):
                best, fence = cut, token
    if best is None:
        return None
    head_text = "".join(lines[:best])
    tail_text = source[len(head_text) :]
    if fence is not None:
        assert fence.map is not None  # only tokens with a map are kept
        opening = lines[fence.map[0]]
        indent = opening[: len(opening) - len(opening.lstrip(" "))]
        head = Piece(head_text + f"{indent}{fence.markup}\n", piece.joined, piece.fence_above, True)
        tail = Piece(opening + tail_text, True, True, piece.fence_below)
        return Cut(head, tail)
    joined = best > 0 and lines[best - 1].strip() != "" and not _starts_block(tail_text)
    head = Piece(head_text, piece.joined, piece.fence_above, False)
    return Cut(head, Piece(tail_text, joined, False, piece.fence_below))


def _starts_block(text: str) -> bool:
    """Whether the tail begins a new top-level block rather than a list item.

    Its first block's kind is set by its first lines: only those are parsed (a backlog's
    tail is all the text after the cut, and parsing it whole at each cut was quadratic)."""
    from codhechat.markdown import markdown_parser

    if (end := text.find("\n", START_CHARS)) >= 0:
        text = text[: end + 1]
    tokens = markdown_parser().parse(text)
    return not tokens or tokens[0].type not in ("bullet_list_open", "ordered_list_open")


class PieceStream:
    """A streaming reply as frozen pieces plus a growing tail."""

    def __init__(self) -> None:
        self.frozen: list[Piece] = []
        self.tail = Piece("")
        self._text: list[str] = []  # as received: pieces add fence lines at cuts
        self._next_check = PIECE_CHARS

    @property
    def text(self) -> str:
        return "".join(self._text)

    def feed(self, text: str, *, hold: bool = False) -> list[Piece]:
        """Append text; return the pieces this froze, oldest first. With `hold`, the tail
        only grows (nothing is cut until `cut()`)."""
        self._text.append(text)
        self.tail = Piece(self.tail.source + text, self.tail.joined, self.tail.fence_above)
        return [] if hold else self.cut()

    def cut(self) -> list[Piece]:
        """Freeze what the tail has past PIECE_CHARS, at safe points; the pieces frozen."""
        tail = self.tail
        frozen: list[Piece] = []
        if len(tail.source) >= self._next_check:
            # Cut near PIECE_CHARS each time, so even a backlog of text makes bounded pieces.
            while len(tail.source) >= PIECE_CHARS and (cut := find_cut(tail, within=PIECE_CHARS) or find_cut(tail)):
                frozen.append(cut.head)
                tail = cut.tail
            # Nowhere to cut (one huge paragraph): look again after more text, not every frame.
            self._next_check = len(tail.source) + PIECE_CHARS
        self.tail = tail
        self.frozen.extend(frozen)
        return frozen
