"""What `visible` does to text on its way to a terminal, for any text at all."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from codhechat.textsafe import CONTROL, has_controls, visible

CONTROLS = "".join(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)])


@given(st.text())
def test_nothing_a_terminal_acts_on_survives(text: str) -> None:
    shown = visible(text)
    assert not any(c in CONTROLS for c in shown if c not in "\n\t")
    assert not has_controls(shown)


@given(st.text(st.characters(blacklist_characters=CONTROLS.replace("\n", "").replace("\t", ""))))
def test_text_without_controls_is_left_exactly_as_it_is(text: str) -> None:
    assert visible(text) is text or visible(text) == text


@given(st.text())
def test_it_is_idempotent_and_keeps_every_other_character_in_order(text: str) -> None:
    shown = visible(text)
    assert visible(shown) == shown
    kept = "".join(c for c in text if not CONTROL.match(c))
    rest = iter(shown)
    assert all(c in rest for c in kept)  # every other character, in order (a subsequence)


def test_the_spellings_are_those_of_cat_v() -> None:
    assert visible("a\x1b]0;t\x07b") == "a^[]0;t^Gb"
    assert visible("\x00\x7f\x9b\x80\x9f") == "^@^?M-^[M-^@M-^_"
    assert visible("line\r\nnext\ttab") == "line\nnext\ttab"  # CR dropped, as Rich does
