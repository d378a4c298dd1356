"""Markdown as codhechat renders it: CommonMark with tables and strikethrough, HTML off.

Rich's Markdown parses HTML and then drops it, so `Use Vec<String> here`, a reply that
opens with `<think>` or any `<div>` a model writes vanished from the screen. A model's
text is never HTML to us: with HTML parsing off, markdown-it keeps it as text.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from rich.markdown import Markdown

if TYPE_CHECKING:
    from rich.console import JustifyMethod
    from rich.style import Style


@cache
def markdown_parser() -> MarkdownIt:
    """The one parser: where pieces are cut (ui/markdown_pieces) and what is rendered agree."""
    return MarkdownIt("commonmark", {"html": False}).enable("strikethrough").enable("table")


class TextMarkdown(Markdown):
    """rich's Markdown, parsed with `markdown_parser()`: angle brackets are text."""

    def __init__(
        self,
        markup: str,
        code_theme: str = "monokai",
        justify: JustifyMethod | None = None,
        style: str | Style = "none",
        hyperlinks: bool = True,
        inline_code_lexer: str | None = None,
        inline_code_theme: str | None = None,
    ) -> None:
        """What rich's `Markdown.__init__` sets, without the parser it builds each time
        (0.26 ms, ten times the parse of a paragraph: a streaming reply builds one a frame).
        tests/unit/test_markdown.py checks that it sets all rich's does."""
        self.markup = markup
        self.parsed = markdown_parser().parse(markup)
        self.code_theme = code_theme
        self.justify = justify
        self.style = style
        self.hyperlinks = hyperlinks
        self.inline_code_lexer = inline_code_lexer
        self.inline_code_theme = inline_code_theme or code_theme
