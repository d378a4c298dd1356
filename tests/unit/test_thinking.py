"""A <think> block opening a reply is the thinking, however the stream splits it."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from codhechat.thinking import Thinking, ThinkTags

TEXT = st.text(alphabet="ab <>/thinkTHINK\n", max_size=30)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in pairwise(points) if b > a]


def run(pieces: list[str]) -> tuple[str, str]:
    tags = ThinkTags()
    out = [p for piece in pieces for p in tags.feed(piece)] + tags.flush()
    return "".join(p for p in out if isinstance(p, Thinking)), "".join(p for p in out if not isinstance(p, Thinking))


@given(TEXT.filter(lambda t: "</think>" not in t), TEXT, st.lists(st.integers(0, 100), max_size=8))
def test_a_think_block_is_split_off_wherever_the_pieces_break(inside: str, after: str, cuts: list[int]) -> None:
    thinking, answer = run(split(f"  <think>{inside}</think>{after}", cuts))
    assert thinking == inside
    assert answer == after.lstrip("\n")


@given(TEXT.filter(lambda t: not t.lstrip().startswith("<think>") and t.lstrip() and not "<think>".startswith(t.lstrip())),
       st.lists(st.integers(0, 100), max_size=8))  # fmt: skip
def test_text_that_does_not_open_with_think_is_all_answer(text: str, cuts: list[int]) -> None:
    assert run(split(text, cuts)) == ("", text)


def test_an_unclosed_block_is_all_thinking() -> None:
    assert run(["<think>still ", "going"]) == ("still going", "")
