"""Text a model (or an import file, or a server) wrote never drives the user's terminal.

Each surface runs for real on a pty and the raw bytes it wrote are read back: the escape
sequences in the stored text must arrive spelled out (`^[`), never as escapes, while the
database keeps the text byte for byte and a pipe or a file gets it raw.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codhechat.store import Store
from tests.fake_openai import FakeOpenAI, Reply
from tests.support.pty import Terminal, terminal_env

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX ptys"),
]

# A window title, a clipboard write (base64 of "PWNED"), a screen clear and an 8-bit CSI.
HOSTILE = "before \x1b]0;PWNED\x07 mid \x1b]52;c;UFdORUQ=\x1b\\ clear\x1b[2J after \x9b31m zzend"
RAW = [b"\x1b]0;PWNED", b"\x1b]52;c;UFdORUQ=", b"clear\x1b[2J", b"\xc2\x9b"]


def assert_defused(output: bytes) -> None:
    for sequence in RAW:
        assert sequence not in output, f"{sequence!r} reached the terminal raw"
    assert b"]0;PWNED^G" in output  # shown, spelled out (Markdown may style the `^[` apart)
    assert b"M-^[31m" in output


@pytest.fixture
def db_path(isolated_dirs: Path) -> Path:
    return isolated_dirs / "xdg_data_home" / "codhechat" / "codhechat.db"


@pytest.fixture
def run(fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    terminals: list[Terminal] = []

    def start(*args: str) -> Terminal:
        terminal = Terminal(terminal_env(fake_openai.base_url), tmp_path, args, size=(200, 40))
        terminals.append(terminal)
        return terminal

    yield start
    for terminal in terminals:
        terminal.close()


def seed(db_path: Path) -> int:
    store = Store.open(db_path)
    try:
        conversation = store.create_conversation(f"title {HOSTILE}")
        store.add_message(conversation.id, "user", f"question {HOSTILE}")
        store.add_message(conversation.id, "assistant", f"answer {HOSTILE}")
        return conversation.id
    finally:
        store.close()


def test_a_reply_with_escapes_is_shown_spelled_out_in_the_app(
    run: Callable[..., Terminal], fake_openai: FakeOpenAI, db_path: Path
) -> None:
    fake_openai.enqueue(Reply(HOSTILE))
    term = run()
    term.wait_idle(timeout=15)
    term.type_prompt("say something nasty")
    term.wait_for("zzend", timeout=10)
    term.wait_idle(timeout=10)
    assert_defused(term.raw())
    term.send(b"\x11")  # ctrl+q
    assert term.wait_exit() == 0
    store = Store.open(db_path)
    try:
        [conversation] = store.list_conversations()
        assert store.all_messages(conversation.id)[-1].content == HOSTILE  # stored byte for byte
    finally:
        store.close()


def test_the_sidebar_and_history_show_stored_escapes_spelled_out(run: Callable[..., Terminal], db_path: Path) -> None:
    conversation_id = seed(db_path)
    # Opened by its id, not by keys into the sidebar: no key races the sidebar's first load
    # (on one busy core that took longer than a key's wait). The sidebar lists its title all the same.
    term = run("--conversation", str(conversation_id))
    term.wait_for("title before", timeout=30)
    term.wait_for("answer", timeout=30)
    term.wait_idle(timeout=30)
    assert_defused(term.raw())


@pytest.mark.parametrize("command", ["list", "show", "search", "export"])
def test_shell_commands_on_a_terminal_spell_escapes_out(
    run: Callable[..., Terminal], db_path: Path, command: str
) -> None:
    conversation_id = seed(db_path)
    args = {"list": ("list",), "show": ("show", str(conversation_id)), "search": ("search", "PWNED"),
            "export": ("export", str(conversation_id))}[command]  # fmt: skip
    term = run(*args)
    assert term.wait_exit() == 0, term.text()
    assert_defused(term.raw())


def test_ask_on_a_terminal_spells_escapes_out_but_a_pipe_gets_the_bytes(
    run: Callable[..., Terminal], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.enqueue(Reply(HOSTILE))
    term = run("ask", "hello")
    assert term.wait_exit() == 0, term.text()
    assert_defused(term.raw())

    fake_openai.enqueue(Reply(HOSTILE))
    piped = subprocess.run(
        [sys.executable, "-m", "codhechat", "ask", "hello"], capture_output=True,
        env=terminal_env(fake_openai.base_url), cwd=tmp_path, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.decode() == HOSTILE + "\n"  # what the user asked for: the raw bytes


def test_export_into_a_file_keeps_the_bytes(db_path: Path, tmp_path: Path) -> None:
    conversation_id = seed(db_path)
    out = tmp_path / "chat.md"
    done = subprocess.run(
        [sys.executable, "-m", "codhechat", "export", str(conversation_id), "-o", str(out)],
        capture_output=True, env=dict(os.environ), cwd=tmp_path, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"answer {HOSTILE}" in out.read_text()
