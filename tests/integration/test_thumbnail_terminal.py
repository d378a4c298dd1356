"""In a terminal that cannot draw images (a plain xterm; kitty seen through tmux) an
attached image is a labelled chip, and the app writes no graphics escape at all: no
Sixel, no Kitty graphics, not even a question to the terminal about them. The app runs
for real on a pty and its raw output is read back."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI
from tests.support.files import png
from tests.support.pty import Terminal, terminal_env

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX ptys"),
]

GRAPHICS = {
    "Sixel": re.compile(rb"\x1bP[0-9;]*q"),
    "Kitty graphics": re.compile(rb"\x1b_G"),
    "a device-attributes query (how textual-image asks for Sixel)": re.compile(rb"\x1b\[0?c"),
    "a cell-size query": re.compile(rb"\x1b\[16t"),
}


@pytest.mark.parametrize(
    "terminal",
    [{"TERM": "xterm-256color"}, {"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1", "TMUX": "/tmp/tmux-0/default,1,0"}],
    ids=["xterm", "kitty-in-tmux"],
)
def test_an_image_is_a_labelled_chip_and_no_graphics_escape_is_written(
    fake_openai: FakeOpenAI, tmp_path: Path, terminal: dict[str, str]
) -> None:
    (tmp_path / "pixel.png").write_bytes(png(16, 8))
    term = Terminal(terminal_env(fake_openai.base_url) | terminal, tmp_path, size=(120, 40))
    try:
        term.wait_idle(timeout=15)
        term.send("look at @pix")
        term.wait_for("look at @pix")
        term.send(b"\t")
        term.wait_for("📎 pixel.png (")  # the labelled chip: name and size
        term.send(b"\r")
        term.wait_for("Echo: look at @pixel.png", timeout=15)
        term.wait_idle(timeout=10)
        output = term.raw()
        for what, pattern in GRAPHICS.items():
            assert not pattern.search(output), f"{what} reached a terminal that cannot draw images"
        term.send(b"\x11")  # ctrl+q
        assert term.wait_exit() == 0
    finally:
        term.close()
