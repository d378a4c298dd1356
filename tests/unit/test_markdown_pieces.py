"""Piecewise Markdown: cuts are safe, bounded, and invisible once rendered."""

from __future__ import annotations

import io
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markdown import Markdown

from codhechat.ui.markdown_pieces import PIECE_CHARS, Piece, PieceStream, find_cut
from codhechat.ui.piece_markdown import PieceMarkdown
from codhechat.ui.widgets.piece_view import RenderedPiece

PROSE = "".join(
    f"Paragraph {i} has **bold** and `code` and enough words to wrap around the line.\n\n" for i in range(60)
)
BULLETS = "".join(f"- item {i} with *emphasis*\n" for i in range(300))
NUMBERED = "".join(f"{i}. step {i}\n" for i in range(1, 301))
FENCE = "```python\n" + "".join(f"value_{i} = compute({i})  # line {i}\n" for i in range(300)) + "```\n"
MIXED = "# Title\n\nIntro text.\n\n" + BULLETS[:2000] + "\n" + FENCE[:3000] + "\n```\n\nThe end.\n"


def stream(text: str, seed: int = 0, *, held: bool = False) -> PieceStream:
    """`text` fed in random steps; `held`: as a live reply with room feeds it, the tail
    held and cut now and then (as when it outgrows its room, ReplyView._flush)."""
    rng = random.Random(seed)
    pieces = PieceStream()
    i = 0
    while i < len(text):
        step = rng.randint(1, 40)
        pieces.feed(text[i : i + step], hold=held and rng.random() < 0.9)
        i += step
    return pieces


def plain(renderables: list[Markdown], width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    for renderable in renderables:
        console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


def rendered_pieces(pieces: PieceStream) -> list[str]:
    lines: list[str] = []
    for piece in [*pieces.frozen, pieces.tail]:
        if lines and not piece.joined:
            lines.append("")  # the stylesheet puts one blank line between unjoined pieces
        lines += plain([PieceMarkdown(piece, code_theme="monokai")])
    return lines


@pytest.mark.parametrize(
    "text",
    [PROSE, BULLETS, NUMBERED, FENCE, MIXED],
    ids=["prose", "bullets", "numbered", "fence", "mixed"],
)
@pytest.mark.parametrize("held", [False, True], ids=["cut-as-fed", "held-then-cut"])
def test_pieces_render_exactly_like_the_whole(text: str, held: bool) -> None:
    pieces = stream(text, held=held)
    assert len(pieces.frozen) >= 2, "a long reply must be cut"
    assert rendered_pieces(pieces) == plain([Markdown(text, code_theme="monokai")])


@pytest.mark.parametrize("text", [BULLETS, FENCE, PROSE], ids=["bullets", "fence", "prose"])
def test_the_tail_stays_bounded(text: str) -> None:
    pieces = PieceStream()
    longest = 0
    for i in range(0, len(text), 7):
        pieces.feed(text[i : i + 7])
        longest = max(longest, len(pieces.tail.source))
    assert longest < 2 * PIECE_CHARS


def test_no_cut_inside_an_unfinished_line() -> None:
    assert find_cut(Piece("- one\n- tw")) is None
    cut = find_cut(Piece("- one\n- two\n- thr"))
    assert cut is not None
    assert cut.head.source == "- one\n" and cut.tail.source == "- two\n- thr"


def test_a_cut_fence_is_closed_and_reopened() -> None:
    cut = find_cut(Piece("~~~~ rust\nfn a() {}\nfn b() {}\nfn c() {}\n"))
    assert cut is not None
    assert cut.head.source.endswith("~~~~\n") and cut.head.fence_below
    assert cut.tail.source.startswith("~~~~ rust\n") and cut.tail.fence_above and cut.tail.joined


def test_a_cut_fence_keeps_its_blank_lines() -> None:
    """rich drops a code block's trailing blank lines: a head ending with one lost it."""
    cut = find_cut(Piece("```py\nx = 1\n\ny = 2\nz"))
    assert cut is not None
    assert (cut.head.source, cut.tail.source) == ("```py\nx = 1\n```\n", "```py\n\ny = 2\nz")
    assert find_cut(Piece("```py\nx = 1\n\n\n")) is None  # a tail of blank code lines would show one


def test_a_setext_heading_is_never_split_from_its_underline() -> None:
    cut = find_cut(Piece("Intro\n\nTitle\n=="))
    assert cut is not None and cut.tail.source == "Title\n=="


@pytest.mark.parametrize("text", [BULLETS, FENCE, PROSE, MIXED], ids=["bullets", "fence", "prose", "mixed"])
def test_a_backlog_arriving_at_once_still_makes_bounded_pieces(text: str) -> None:
    pieces = PieceStream()
    pieces.feed(text)
    assert len(pieces.frozen) >= 3
    assert max(len(p.source) for p in [*pieces.frozen, pieces.tail]) < 2 * PIECE_CHARS
    assert rendered_pieces(pieces) == plain([Markdown(text, code_theme="monokai")])


def test_a_held_tail_only_grows_until_it_is_cut_into_bounded_pieces() -> None:
    pieces = PieceStream()
    for i in range(0, 3 * PIECE_CHARS, 50):
        assert pieces.feed(PROSE[i : i + 50], hold=True) == []
    assert not pieces.frozen and pieces.tail.source == PROSE[: 3 * PIECE_CHARS]
    frozen = pieces.cut()
    assert len(frozen) >= 2 and pieces.frozen == frozen
    assert max(len(p.source) for p in [*frozen, pieces.tail]) <= PIECE_CHARS + 100  # cut near PIECE_CHARS
    assert "".join(p.source for p in [*frozen, pieces.tail]) == PROSE[: 3 * PIECE_CHARS]


def test_text_is_the_reply_as_received_not_as_cut() -> None:
    assert stream(FENCE).text == FENCE


LIVE_TEXTS = {  # text, whether blocks of it are settled (between paragraphs only)
    "prose": (PROSE, True),
    "fence": (FENCE, False),
    "mixed": (MIXED, False),
    "headings": ("".join(f"## Part {i}\n\nSome text for part {i}.\n\nAnd more.\n\n" for i in range(60)), True),
    "bullets": (BULLETS, False),
    "numbered": (NUMBERED, False),
    "tight-then-loose": (BULLETS[:600] + "\n" + BULLETS[600:1200].replace("\n", "\n\n"), False),
    "loose-numbered": (NUMBERED.replace("\n", "\n\n"), False),
}


@pytest.mark.parametrize("name", LIVE_TEXTS)
def test_a_live_piece_rendered_block_by_block_is_the_whole_at_every_length(name: str) -> None:
    """A live MarkdownPiece renders each block once it is complete (ui/widgets/piece_view.py):
    grown in random steps, its lines are at every step those of the whole piece rendered."""
    text, settles = LIVE_TEXTS[name]
    console = Console(width=90, file=io.StringIO(), color_system="truecolor")
    options = console.options.update(height=None)
    shown = [Piece("")]
    live = RenderedPiece(lambda: (shown[0], True), lambda: "monokai")
    rng = random.Random(1)
    end = 0
    while end < min(len(text), 2500):
        end += rng.randint(1, 60)
        shown[0] = Piece(text[:end])
        live.invalidate()
        whole = PieceMarkdown(shown[0], code_theme="monokai", highlight=False)
        assert live.get("monokai").lines(console, options) == console.render_lines(whole, options, pad=False), end
    assert (len(live._settled) > 20) is settles  # blocks settled, not the whole re-rendered each time


MARKDOWN_BITS = [  # what can begin, end or join blocks, for hypothesis to combine
    "word ",
    "two words",
    "Word\n",
    "\n",
    "\n\n",
    "# ",
    "## ",
    "- ",
    "* ",
    "+ ",
    "1. ",
    "2) ",
    "- [ ] t\n",
    "> ",
    "```",
    "```py\n",
    "~~~",
    "    ",
    "    code\n",
    "\t",
    "| a | b |\n",
    "|---|---|\n",
    "a | b\n",
    "--|--\n",
    "---",
    "===",
    "***",
    "**b**",
    "`c`",
    "_i_",
    "[x](http://e.org)",
    "<div>",
    "</div>",
    "<!-- c -->",
    "&amp;",
    "\\",
]  # (not link reference definitions: one defined after its use links what was settled before it)


def assert_grows_as_the_whole(text: str, steps: list[int], width: int) -> RenderedPiece:
    """`text` grown as a live piece in `steps` (cycled): at every step its lines must be those
    of the whole rendered at once."""
    console = Console(width=width, file=io.StringIO(), color_system="truecolor")
    options = console.options.update(height=None)
    shown = [Piece("")]
    live = RenderedPiece(lambda: (shown[0], True), lambda: "monokai")
    end = 0
    for step in itertools.cycle(steps):
        if end >= len(text):
            break
        end += step
        shown[0] = Piece(text[:end])
        live.invalidate()
        whole = PieceMarkdown(shown[0], code_theme="monokai", highlight=False)
        assert live.get("monokai").lines(console, options) == console.render_lines(whole, options, pad=False), text[
            :end
        ]
    return live


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(MARKDOWN_BITS), min_size=3, max_size=60), st.lists(st.integers(1, 30), min_size=1))
def test_any_markdown_grown_in_any_steps_renders_live_as_the_whole(bits: list[str], steps: list[int]) -> None:
    """Untrusted model text: whatever it is and however it arrives, the live piece's lines
    are those of the whole at every step (the blocks it settled render as they do in it)."""
    assert_grows_as_the_whole("".join(bits), steps, 60)


@pytest.mark.parametrize("step", [1, 2, 3])
def test_a_table_whose_header_row_begins_like_a_paragraph_is_not_settled_apart(step: int) -> None:
    """Found by hypothesis: rich opens a table with a blank line of its own, and a header row
    that begins with a letter looked like a paragraph until its `|` came (or its delimiter row)."""
    assert_grows_as_the_whole("a | b\n\na | b\n|---|---|\n| 1 | 2 |\n\nend\n", [step], 60)


PROSE_BITS = ["word ", "Word ", "wrapping ", "a ", "x", "42 ", ", ", ". ", "? ", "! ", "'q' ", '"q" ',
              "**bold** ", "`code` ", "_it_ ", "[link](http://e.org) ", "averyveryverylongwordthatfolds", "漢字 ", "\n", "\n\n"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(PROSE_BITS), min_size=3, max_size=80),
    st.lists(st.integers(1, 12), min_size=1),
    st.integers(8, 60),
)
def test_prose_grown_word_by_word_renders_live_as_the_whole(bits: list[str], steps: list[int], width: int) -> None:
    """A paragraph being written is wrapped again from its last line only (ui/paragraph_growth.py),
    and the one before it is settled though the line after it has not ended: at every step,
    whatever came before, the lines are those of the whole rendered at once."""
    assert_grows_as_the_whole("Start " + "".join(bits), steps, width)


def test_a_paragraph_being_written_is_all_that_is_rendered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prose grown a few characters at a time settles every paragraph before the one being
    written, and words appended to that one are wrapped from its last line, not rendered."""
    rendered: list[Piece] = []
    render_piece = RenderedPiece._render_piece

    def counted(console: Console, options: object, piece: Piece, theme: str) -> object:
        rendered.append(piece)
        return render_piece(console, options, piece, theme)  # type: ignore[arg-type]

    monkeypatch.setattr(RenderedPiece, "_render_piece", staticmethod(counted))
    text = "".join(f"Paragraph {i} is being written word by word.\n\n" for i in range(12))
    live = assert_grows_as_the_whole(text + "The last one" + " goes on" * 60, [3, 5, 1, 7], 40)
    assert live._rest.source == "The last one" + " goes on" * 60
    last = [piece for piece in rendered if "The last".startswith(piece.source[:8])]
    assert 0 < len(last) < 5, len(last)  # of ~120 steps into it
