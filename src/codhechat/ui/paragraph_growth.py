"""A paragraph's rendered lines after plain words are appended to it, without rendering it again.

Why: while a reply streams, each frame renders again the part of its live piece that is not
settled (ui/widgets/piece_view.py: RenderedPiece), usually the paragraph being written: a
Markdown parse and a wrap of the whole paragraph (~0.5 ms for a long one, half a frame's
cost at 200 tokens/s), though all a frame did was add a few words at its end. Wrapping is
greedy, so appending text changes only a paragraph's last line and what follows it; and text
with no markup in it, appended to a paragraph that ends in plain text, leaves what is above
it rendered as it was. So its last line is wrapped again with the new words, and the lines
above are kept.

Only when that is certain (`grows_plainly`): the paragraph is one top-level paragraph (every
line begins with a letter, no blank line, not inside a fence), with no runs of spaces or
tabs nor words wider than a line (whitespace can wrap otherwise at a line's start), ending in a letter, digit or plain
punctuation (not a delimiter whose meaning the next character decides, nor an escape); and
the new text is ASCII letters, digits, spaces and plain punctuation, no newline, nothing that
ends an entity (`;`) or begins a link. Anything else is rendered whole, as before.
tests/unit/test_markdown_pieces.py grows random Markdown in random steps and compares each
step with the whole rendered at once.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

PLAIN = re.compile(r"[A-Za-z0-9 ,.?!'\"]+")  # appended, changes nothing above it
LINE_START = re.compile(r"[A-Za-z]")  # a line that can only go on a paragraph
NULL = Style.null()

__all__ = ["grown_paragraph", "grows_plainly"]


def grows_plainly(source: str, grown: str, *, fence_above: bool, width: int) -> bool:
    """Whether `source` (a piece's text, not settled yet) is one paragraph that `grown`,
    appended, only lengthens, and whose last line at `width` begins a word (a word wider
    than the line is folded, and the space after it then begins the next line)."""
    if fence_above or not source or not PLAIN.fullmatch(grown):
        return False
    if "\n\n" in source or "  " in source or "\t" in source or not PLAIN.fullmatch(source[-1]):
        return False
    if not all(LINE_START.match(line) for line in source.split("\n")):
        return False
    return all(cell_len(word) < width for word in source.split())


def grown_paragraph(
    lines: list[list[Segment]], source: str, grown: str, console: Console, options: ConsoleOptions
) -> list[list[Segment]]:
    """The lines of paragraph `source + grown`, given `lines`, those of `source` (as rich's
    Markdown renders a paragraph: wrapped, left-justified, padded to the width)."""
    last = Text()
    for segment in lines[-1]:
        if not segment.control:
            last.append(segment.text, segment.style)
    last.rstrip()  # its padding (a paragraph's own trailing spaces are dropped by Markdown)
    last.append(source[len(source.rstrip()) :] + grown)  # plain text: the paragraph's own style
    last.rstrip()
    last.justify = "left"
    wrapped = console.render_lines(last, options, pad=False)
    if any(segment.style is not None for line in lines for segment in line):
        # rich renders a paragraph with styled runs anywhere in it with a null style, not
        # none, on its plain text: the lines are then those of the whole, segment for segment
        wrapped = [[Segment(s.text, s.style or NULL, s.control) for s in line] for line in wrapped]
    return [*lines[:-1], *wrapped]
