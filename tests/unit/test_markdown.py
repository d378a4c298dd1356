"""Nothing a model writes vanishes when its Markdown is rendered: HTML is text."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from codhechat.markdown import TextMarkdown
from codhechat.ui.markdown_pieces import Piece
from codhechat.ui.piece_markdown import PieceMarkdown


def rendered(markdown: object, width: int = 100) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(markdown)
    return console.export_text()


def test_angle_brackets_and_think_tags_are_shown() -> None:
    reply = "Use Vec<String> here and <div>this</div> too.\n\n<think>\nplanning\n</think>\n\nThe answer."
    for markdown in (PieceMarkdown(Piece(reply), code_theme="monokai"), TextMarkdown(reply)):
        shown = rendered(markdown)
        for fragment in ("Vec<String>", "<div>this</div>", "<think>", "planning", "</think>", "The answer."):
            assert fragment in shown, (fragment, shown)


# Words a model writes, HTML-looking ones included; no Markdown syntax (which is meant to
# turn into styling), so every character must reach the screen.
WORDS = st.sampled_from(
    ["<div>", "</div>", "<think>", "</think>", "Vec<String>", "<br/>", "<!-- note -->", '<a href="x">',
     "<script>alert(1)</script>", "a<b", "x>y", "&", "<", "plain", "words", "Ünïcode", "漢字", "end."]
)  # fmt: skip
REPLIES = st.lists(st.tuples(WORDS, st.sampled_from([" ", " ", "\n", "\n\n"])), min_size=1, max_size=40).map(
    lambda pairs: "".join(word + gap for word, gap in pairs)
)


@settings(max_examples=200, deadline=None)
@given(REPLIES)
def test_every_character_of_a_reply_reaches_the_screen(reply: str) -> None:
    shown = "".join(rendered(PieceMarkdown(Piece(reply), code_theme="monokai"), width=400).split())
    expected = "".join(reply.split())
    rest = iter(shown)
    assert all(c in rest for c in expected), (reply, shown)  # every non-space character, in order
