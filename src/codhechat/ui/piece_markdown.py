"""A piece of Markdown as rich renders it (ui/markdown_pieces.py cuts a reply into pieces).

Apart from the cutting, so that what imports pieces (the message widgets, hence the first
frame) does not import rich's Markdown, markdown-it and Pygments' Syntax until a message
is rendered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from markdown_it.token import Token
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Markdown
from rich.segment import Segment
from rich.syntax import Syntax

from codhechat.markdown import TextMarkdown
from codhechat.ui.markdown_pieces import Piece


class _PieceCodeBlock(CodeBlock):
    """A code block that drops its padding where a fence was cut."""

    pad_top: int
    pad_bottom: int
    highlight: bool

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> _PieceCodeBlock:
        block = cast(_PieceCodeBlock, super().create(markdown, token))
        pieces = cast(PieceMarkdown, markdown)  # the only Markdown whose elements name this class
        piece = pieces.piece
        block.pad_top = 0 if piece.fence_above and token.map and token.map[0] == 0 else 1
        block.pad_bottom = 0 if piece.fence_below and token.map and token.map[1] >= pieces.line_count else 1
        block.highlight = pieces.highlight
        pieces.has_code = True
        return block

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip("\n")
        padding = (self.pad_top, 1, self.pad_bottom, 1)
        lexer = self.lexer_name if self.highlight else "text"
        yield Syntax(code, lexer, theme=self.theme, word_wrap=True, padding=padding)


class PieceMarkdown(TextMarkdown):
    """rich's Markdown for one piece (HTML off: see codhechat.markdown).

    `highlight=False` renders code blocks as plain text: the growing tail is
    re-rendered every frame, so it skips syntax highlighting, which then costs
    once per piece, when the piece is frozen or the reply ends.
    """

    elements = {**TextMarkdown.elements, "fence": _PieceCodeBlock, "code_block": _PieceCodeBlock}

    def __init__(self, piece: Piece, *, code_theme: str, highlight: bool = True) -> None:
        self.piece = piece
        self.highlight = highlight
        self.has_code = False  # set as it renders: whether it has a code block
        self.line_count = piece.source.count("\n") + (0 if piece.source.endswith("\n") else 1)
        super().__init__(
            piece.source,
            code_theme=code_theme,
            hyperlinks=True,
            inline_code_lexer="text",  # inline code on the code theme's background, not black
            inline_code_theme=code_theme,
        )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        segments = cast("Iterable[Segment]", super().__rich_console__(console, options))  # rich yields segments
        if not self.piece.joined or self.piece.fence_above:
            yield from segments
            return
        # rich opens a list with a blank line; a list continued from the previous piece must not.
        for index, line in enumerate(Segment.split_lines(segments)):
            if index == 0 and not "".join(segment.text for segment in line).strip():
                continue
            yield from line
            yield Segment.line()
