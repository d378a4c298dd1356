"""A streamed reply's final screen holds exactly the model's text, however it was painted
(issue 20: the live piece is repainted only where it changed, the pane follows in jumps).

The app runs in tmux, a real terminal on a pty, so what is checked is the screen the
escape codes built, not the bytes: a line painted in part and never finished, or blank
room left behind, would show."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI, Gate, Reply, _tokens
from tests.support.tmux import TmuxTerminal

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(sys.platform == "win32" or shutil.which("tmux") is None, reason="needs tmux on a POSIX pty"),
]

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
PARAGRAPHS = [f"Line {i:03d}: {' '.join(WORDS[: 3 + i % 6])} end." for i in range(90)]


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[TmuxTerminal]:
    term = TmuxTerminal(tmp_path)
    yield term
    term.close()


def app_env(home: Path, base_url: str) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": base_url,
        "CODHECHAT_MAX_RETRIES": "0",
    }


BLANK = " │▎▕▏▐▌█▇▆▅▄▃▂▁"  # borders and the scrollbar, around the pane's text


def tail_shown(screen: str, upto: int) -> str | None:
    """Why `screen` does not show exactly the reply's paragraphs ending at `upto` (None: it does)."""
    lines = screen.splitlines()
    shown = [(row, m) for row, line in enumerate(lines) if (m := re.search(r"Line (\d{3}):", line))]
    if len(shown) < 5:  # while it streams, up to half the pane is room kept blank below the text
        return "fewer than 5 paragraphs on screen"
    column = shown[0][1].start()
    numbers = [int(m.group(1)) for _, m in shown]
    if numbers != list(range(numbers[0], upto + 1)):
        return f"paragraphs {numbers} on screen"
    for row, match in shown:
        text = PARAGRAPHS[int(match.group(1))]
        if match.start() != column or not lines[row][column:].startswith(text):
            return f"row {row} is not {text!r}"  # each line whole
        if lines[row][column + len(text) :].strip(BLANK):
            return f"row {row} has more than {text!r}"
    rows = {row for row, _ in shown}
    between = [lines[row][column:] for row in range(shown[0][0], shown[-1][0] + 1) if row not in rows]
    if len(between) != len(shown) - 1 or any(line.strip(BLANK) for line in between):
        return "the paragraphs are not one blank line apart"
    return None


def test_a_streamed_replys_screen_holds_exactly_its_text_mid_stream_and_at_the_end(
    terminal: TmuxTerminal, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    held = Gate()
    at = len(_tokens("\n\n".join(PARAGRAPHS[:61]) + "\n\n"))  # held after paragraph 60
    fake_openai.enqueue(Reply("\n\n".join(PARAGRAPHS), delay=0.002, holds=((at, held),)))  # a steady stream
    home = tmp_path / "home"
    os.makedirs(home, exist_ok=True)
    terminal.start(Path(sys.executable).with_name("codhechat"), app_env(home, fake_openai.base_url))
    terminal.wait_ready(timeout=30)
    terminal.type("stream a long one")
    terminal.keys("Enter")
    terminal.wait_until(lambda screen: tail_shown(screen, 60) is None, "paragraphs up to 60, whole", timeout=30)
    held.open()
    terminal.wait_for(PARAGRAPHS[-1], timeout=30)
    screen = terminal.wait_ready(timeout=20)
    assert tail_shown(screen, len(PARAGRAPHS) - 1) is None, (tail_shown(screen, len(PARAGRAPHS) - 1), screen)
    last = max(row for row, line in enumerate(screen.splitlines()) if "Line " in line)
    assert "╭" in screen.splitlines()[last + 1], screen  # the input's box right below: no blank room kept at the end
    terminal.keys("C-q")
    assert terminal.wait_exit() == 0
