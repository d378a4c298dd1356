"""The app in a real terminal (a pty) under SIGTERM, SIGHUP, SIGKILL and Escape.

Each test runs ``python -m codhechat`` as its own process, with the pty as its
controlling terminal, against the loopback fake model server streaming a slow
reply. Only the stored conversation and the exit status are judged, plus the
terminal output for tracebacks: what a user finds after the event.
"""

from __future__ import annotations

import sys

import pytest

if sys.platform == "win32":
    pytest.skip("needs POSIX ptys and signals", allow_module_level=True)

import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from codhechat.backends.local import SAVE_INTERVAL_S
from codhechat.models import MessageStatus
from codhechat.store import Store
from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.support.pty import Terminal, terminal_env

pytestmark = pytest.mark.timeout(180)

TOKENS = 100
# A ceiling for a busy machine (the suite beside other work, one core): an exit saves the
# reply and closes the model client; a hang still fails, later. Not a speed test.
EXIT_WITHIN_S = 60
REPLY_TEXT = " ".join(f"w{i:03d}" for i in range(TOKENS))
PROMPT = "Count slowly please"


@pytest.fixture
def db_path(isolated_dirs: Path) -> Path:
    return isolated_dirs / "xdg_data_home" / "codhechat" / "codhechat.db"


@pytest.fixture
def launch(fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[Callable[[], Terminal]]:
    terminals: list[Terminal] = []

    def start() -> Terminal:
        env = terminal_env(fake_openai.base_url)  # isolated_dirs already points XDG_* at tmp_path
        terminal = Terminal(env, tmp_path)
        terminals.append(terminal)
        return terminal

    yield start
    for terminal in terminals:
        terminal.close()


def saved_reply(db_path: Path) -> tuple[str, str] | None:
    """(content, status) of the newest assistant message, read the way a second process would."""
    if not db_path.exists():
        return None
    conn = sqlite3.connect(db_path, timeout=5)
    try:
        row = conn.execute(
            "select content, status from messages where role = 'assistant' order by id desc limit 1"
        ).fetchone()
    except sqlite3.OperationalError:  # schema not created yet
        return None
    finally:
        conn.close()
    return row


def start_streaming(launch: Callable[[], Terminal], fake: FakeOpenAI, db_path: Path) -> tuple[Terminal, str]:
    """Start the app, send the prompt, and return with the reply held mid-stream, a throttled
    save on disk and more text arrived (and shown) since. Also returns that throttled save.

    Gates, not timing: 20 tokens, then a pause longer than the save interval; one token
    (its arrival makes the throttled save), a hold until that save is seen on disk; three
    more tokens, shown on screen, and a hold that lasts until the test is done."""
    saved_before, settle, after = Gate(), Gate(), Gate()
    fake.enqueue(Reply(REPLY_TEXT, holds=((20, saved_before), (21, settle), (24, after))))
    term = launch()
    term.wait_idle(timeout=15)
    term.type_prompt(PROMPT)
    saved_before.wait_reached()
    term.wait_for(REPLY_TEXT.split()[19], timeout=10)
    time.sleep(SAVE_INTERVAL_S + 0.2)  # a lower bound, not a race: the next token is then saved
    saved_before.open()
    settle.wait_reached()
    deadline = time.monotonic() + 10
    while (row := saved_reply(db_path)) is None or not row[0].rstrip().endswith(REPLY_TEXT.split()[20]):
        if time.monotonic() > deadline:
            term.fail(f"no throttled save of the streaming reply (last row: {row!r})")
        time.sleep(0.02)
    assert row[1] == MessageStatus.PARTIAL
    settle.open()
    after.wait_reached()
    term.wait_for(REPLY_TEXT.split()[23], timeout=10)  # in the app's hands, not yet saved
    return term, row[0]


def assert_partial_saved(db_path: Path, *, after: str, longer: bool = True) -> str:
    """The conversation holds the prompt and a 'partial' reply that is a prefix of the script.

    `after` is the last throttled save seen while streaming; with `longer`, the reply must hold
    more than that: the text that arrived since was saved when the reply was interrupted."""
    store = Store.open(db_path)
    try:
        conversations = store.list_conversations()
        assert len(conversations) == 1
        assert conversations[0].title == PROMPT
        messages = store.get_messages(conversations[0].id)
    finally:
        store.close()
    assert [m.role for m in messages] == ["user", "assistant"]
    user, reply = messages
    assert user.content == PROMPT
    assert user.status == MessageStatus.COMPLETE
    assert reply.status == MessageStatus.PARTIAL
    assert reply.content, "the partial reply was not saved"
    assert REPLY_TEXT.startswith(reply.content), f"not a prefix of the scripted reply: {reply.content!r}"
    assert reply.content.startswith(after)
    if longer:
        assert len(reply.content) > len(after), "only the throttled save survived: the stop saved nothing"
    assert len(reply.content) < len(REPLY_TEXT)
    return reply.content


def assert_clean_exit(term: Terminal, code: int, *, screen: bool = True) -> None:
    if screen:
        assert "Traceback" not in term.text(), term.text()[-3000:]
    assert code == 0, f"exit status {code}\n{term.text()[-3000:]}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_mid_stream_keeps_partial_reply_and_exits_cleanly(
    launch: Callable[[], Terminal], fake_openai: FakeOpenAI, db_path: Path, sig: signal.Signals
) -> None:
    term, throttled = start_streaming(launch, fake_openai, db_path)
    term.proc.send_signal(sig)
    code = term.wait_exit(timeout=EXIT_WITHIN_S)
    assert_clean_exit(term, code)
    assert_partial_saved(db_path, after=throttled)


def test_terminal_hang_up_keeps_partial_reply_and_exits_cleanly(
    launch: Callable[[], Terminal], fake_openai: FakeOpenAI, db_path: Path
) -> None:
    """The SSH connection drops: the pty master closes and the kernel sends SIGHUP."""
    term, throttled = start_streaming(launch, fake_openai, db_path)
    seen = term.text()
    term.hang_up()
    code = term.wait_exit(timeout=EXIT_WITHIN_S)
    assert "Traceback" not in seen
    assert_clean_exit(term, code, screen=False)  # nowhere left to print anything
    assert_partial_saved(db_path, after=throttled)


def test_sigkill_mid_stream_keeps_throttled_save(
    launch: Callable[[], Terminal], fake_openai: FakeOpenAI, db_path: Path
) -> None:
    """No handler runs on SIGKILL: what survives is the save made while streaming."""
    term, throttled = start_streaming(launch, fake_openai, db_path)
    term.proc.send_signal(signal.SIGKILL)
    assert term.wait_exit(timeout=EXIT_WITHIN_S) == -signal.SIGKILL
    assert_partial_saved(db_path, after=throttled, longer=False)


def test_escape_stops_generation_and_the_app_stays_usable(
    launch: Callable[[], Terminal], fake_openai: FakeOpenAI, db_path: Path
) -> None:
    term, throttled = start_streaming(launch, fake_openai, db_path)
    mark = term.mark()
    term.send(b"\x1b")  # a lone Escape: the parser decides it is the key after a short pause
    term.wait_for("Stopped", since=mark, timeout=5)
    term.wait_idle(since=mark, timeout=5)
    stopped = assert_partial_saved(db_path, after=throttled)
    fake_openai.reset()  # opens the held stream: were the reply still being read, it would grow
    time.sleep(0.3)
    assert saved_reply(db_path) == (stopped, MessageStatus.PARTIAL), "the reply went on after Escape"

    # Still usable: the next prompt in the same conversation gets a full reply.
    fake_openai.enqueue(Reply("Second answer arrives intact"))
    mark = term.mark()
    term.type_prompt("And now?")
    term.wait_for("intact", since=mark, timeout=10)
    term.wait_idle(since=mark, timeout=10)
    deadline = time.monotonic() + 5
    while saved_reply(db_path) != ("Second answer arrives intact", MessageStatus.COMPLETE):
        if time.monotonic() > deadline:
            term.fail(f"second reply not stored as complete: {saved_reply(db_path)!r}")
        time.sleep(0.05)
    sent = fake_openai.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == stopped  # the model sees what was kept of the stopped reply

    mark = term.mark()
    term.send(b"\x11")  # ctrl+q
    assert_clean_exit(term, term.wait_exit(timeout=EXIT_WITHIN_S))
