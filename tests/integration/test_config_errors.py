"""A wrong configuration, in a real terminal: `codhechat` says what is wrong in plain
words, with no traceback. Invalid TOML is found before the app starts; a value only
pydantic-settings can judge (read after the first frame, first_settings.py) ends the app
with the same message, the terminal given back."""

from __future__ import annotations

import sys

import pytest

if sys.platform == "win32":
    pytest.skip("needs POSIX ptys", allow_module_level=True)

from pathlib import Path

from codhechat import paths
from tests.support.pty import Terminal, terminal_env

pytestmark = pytest.mark.timeout(120)
EXIT_USAGE = 2


def run_with_config(text: str, cwd: Path) -> tuple[int, str]:
    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    terminal = Terminal(terminal_env("http://127.0.0.1:9/v1"), cwd)
    try:
        code = terminal.wait_exit(timeout=60)
        terminal._reader.join(10)  # it stops at EIO, once it has read all the app wrote
        return code, terminal.text()
    finally:
        terminal.close()


def test_invalid_toml_is_said_before_the_app(tmp_path: Path) -> None:
    code, text = run_with_config("model = [unclosed\n", tmp_path)
    assert code == EXIT_USAGE
    assert "not valid TOML" in text and "config.toml" in text
    assert "Traceback" not in text


def test_an_invalid_value_ends_the_app_with_the_same_plain_message(tmp_path: Path) -> None:
    code, text = run_with_config('history_window = "lots"\n', tmp_path)
    assert code == EXIT_USAGE
    assert "codhechat: Invalid setting (history_window" in text
    assert "Check your flags, CODHECHAT_* variables, .env and" in text
    assert "Traceback" not in text
