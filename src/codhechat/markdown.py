"""Markdown as codhechat renders it: CommonMark with tables and strikethrough, HTML off.

Rich's Markdown parses HTML and then drops it, so `Use Vec<String> here`, a reply that
opens with `<think>` or any `<div>` a model writes vanished from the screen. A model's
text is never HTML to us: with HTML parsing off, markdown-it keeps it as text.
"""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt
from rich.markdown import Markdown


@cache
def markdown_parser() -> MarkdownIt:
    """The one parser: where pieces are cut (ui/markdown_pieces) and what is rendered agree."""
    return MarkdownIt("commonmark", {"html": False}).enable("strikethrough").enable("table")


class TextMarkdown(Markdown):
    """rich's Markdown, parsed with `markdown_parser()`: angle brackets are text."""

    def __init__(self, markup: str, **options: object) -> None:
        super().__init__("", **options)  # type: ignore[arg-type]  # parses "" (free); ours below
        self.markup = markup
        self.parsed = markdown_parser().parse(markup)
