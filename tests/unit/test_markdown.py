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


def test_text_markdown_sets_all_that_rich_markdown_sets() -> None:
    """TextMarkdown sets rich's attributes itself (rich's __init__ builds a parser each
    time): on a rich upgrade that adds one, this fails rather than a render."""
    from rich.markdown import Markdown

    options = {"code_theme": "native", "justify": "left", "style": "bold", "hyperlinks": False,
               "inline_code_lexer": "text", "inline_code_theme": "monokai"}  # fmt: skip
    ours, theirs = vars(TextMarkdown("Some *text*", **options)), vars(Markdown("Some *text*", **options))
    assert ours.keys() >= theirs.keys()
    assert {k: ours[k] for k in theirs if k != "parsed"} == {k: v for k, v in theirs.items() if k != "parsed"}
    assert [t.type for t in ours["parsed"]] == [t.type for t in theirs["parsed"]]


def test_text_markdown_builds_no_parser(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A streaming reply builds a TextMarkdown each frame: the parser is built once."""
    from markdown_it import MarkdownIt

    TextMarkdown("warm up")  # the shared parser, built once
    built = []
    init = MarkdownIt.__init__
    monkeypatch.setattr(MarkdownIt, "__init__", lambda self, *a, **k: built.append(1) or init(self, *a, **k))
    for _ in range(3):
        PieceMarkdown(Piece("A *reply*\n\n- one\n- two\n"), code_theme="monokai")
    assert built == []
