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

import fcntl
import os
import re
import select
import signal
import sqlite3
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from codhechat.models import MessageStatus
from codhechat.store import Store
from tests.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.timeout(60)

COLS, ROWS = 110, 32
TOKENS = 100
TOKEN_DELAY = 0.05  # 100 tokens over ~5 s: long enough to interrupt mid-stream
REPLY_TEXT = " ".join(f"w{i:03d}" for i in range(TOKENS))
PROMPT = "Count slowly please"

# Make the pty the child's controlling terminal (after Popen's setsid), then become the app:
# same pid, so signals sent to the Popen go to codhechat itself, and closing the master
# makes the kernel hang up the session as an SSH disconnect would.
LAUNCHER = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, '-m', 'codhechat'])"
)
ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\x1b[\]P_^][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC / DCS / APC / PM strings
    rb"|\x1b[ -/]*[0-~]"  # other escapes
)


class Terminal:
    """One app process on a pty; a thread keeps draining the output so the app never blocks."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER],
            stdin=slave, stdout=slave, stderr=slave,
            env=env, cwd=cwd, start_new_session=True, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.master: int | None = master
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._drain, name="pty-reader", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.master is not None
        fd = self.master
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: every slave end is closed, the app is gone
                return
            if not data:
                return
            with self._lock:
                self._raw += data

    # Output

    def mark(self) -> int:
        with self._lock:
            return len(self._raw)

    def text(self, since: int = 0) -> str:
        """Output since a mark, escape sequences removed (words stay whole within a style run)."""
        with self._lock:
            raw = bytes(self._raw[since:])
        return ANSI.sub(b"", raw).decode("utf-8", "replace")

    def wait_until(
        self, check: Callable[[str], bool], what: str, *, since: int = 0, timeout: float = 10.0
    ) -> None:
        """Poll the output since a mark until `check` holds; fail with the screen if it never does."""
        deadline = time.monotonic() + timeout
        while not check(self.text(since)):
            if self.proc.poll() is not None:
                self.fail(f"the app exited ({self.proc.returncode}) before {what}")
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)

    def wait_for(self, needle: str, *, since: int = 0, timeout: float = 10.0) -> None:
        self.wait_until(lambda text: needle in text, f"{needle!r} to appear", since=since, timeout=timeout)

    def wait_idle(self, *, since: int = 0, timeout: float = 10.0) -> None:
        """Wait until the status line last drawn since the mark says "ready", not "generating"."""

        def idle(text: str) -> bool:
            return text.rfind("ready") > text.rfind("generating")

        self.wait_until(idle, 'the status line to say "ready"', since=since, timeout=timeout)

    def fail(self, why: str) -> None:
        pytest.fail(f"{why}\n--- terminal output (escapes removed, last 3000 chars) ---\n{self.text()[-3000:]}")

    # Input

    def send(self, data: bytes | str) -> None:
        assert self.master is not None, "the terminal is closed"
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def type_prompt(self, text: str) -> None:
        """Type like a person (the prompt has focus at start-up), then press Enter."""
        self.send(text)
        time.sleep(0.1)  # the Enter must be read as a key of its own, not pasted text
        self.send(b"\r")

    # Lifecycle

    def wait_exit(self, timeout: float = 8.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"the app did not exit within {timeout} s")
            raise  # unreachable

    def hang_up(self) -> None:
        """Close the master side, as sshd does when the connection drops."""
        self._stop.set()
        self._reader.join(2)
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.hang_up()


@pytest.fixture
def db_path(isolated_dirs: Path) -> Path:
    return isolated_dirs / "xdg_data_home" / "codhechat" / "codhechat.db"


@pytest.fixture
def launch(fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[Callable[[], Terminal]]:
    terminals: list[Terminal] = []

    def start() -> Terminal:
        env = dict(os.environ)  # isolated_dirs already points XDG_* at tmp_path
        env.update(
            OPENAI_BASE_URL=fake_openai.base_url,
            OPENAI_API_KEY="sk-test",
            CODHECHAT_MAX_RETRIES="0",
            TERM="xterm-256color",
            COLORTERM="truecolor",
            PYTHONUNBUFFERED="1",
        )
        for name in ("COLUMNS", "LINES", "TEXTUAL", "TEXTUAL_DRIVER", "NO_COLOR"):
            env.pop(name, None)
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
    """Start the app, send the prompt, and return once > 1.5 s of the reply streamed, at least
    one throttled save reached the disk, and the latest save is ~0.4 s old (so more text has
    arrived since, and the next save is still ~0.6 s away). Also returns that latest save."""
    fake.enqueue(Reply(REPLY_TEXT, delay=TOKEN_DELAY))
    term = launch()
    term.wait_idle(timeout=15)
    term.type_prompt(PROMPT)
    fake.wait_for_requests(1, timeout=10)
    started = time.monotonic()
    saved, saved_at = "", started
    while True:
        now = time.monotonic()
        row = saved_reply(db_path)
        if row is not None and row[0] != saved:
            assert row[1] == MessageStatus.PARTIAL, f"the reply ended too early to interrupt: {row!r}"
            saved, saved_at = row[0], now
        if saved and now - started >= 1.5 and now - saved_at >= 0.4:
            return term, saved
        if now - started > 8:
            term.fail(f"no throttled save of the streaming reply within 8 s (last row: {row!r})")
        time.sleep(0.03)


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
    code = term.wait_exit(timeout=5)
    assert_clean_exit(term, code)
    assert_partial_saved(db_path, after=throttled)


def test_terminal_hang_up_keeps_partial_reply_and_exits_cleanly(
    launch: Callable[[], Terminal], fake_openai: FakeOpenAI, db_path: Path
) -> None:
    """The SSH connection drops: the pty master closes and the kernel sends SIGHUP."""
    term, throttled = start_streaming(launch, fake_openai, db_path)
    seen = term.text()
    term.hang_up()
    code = term.wait_exit(timeout=5)
    assert "Traceback" not in seen
    assert_clean_exit(term, code, screen=False)  # nowhere left to print anything
    assert_partial_saved(db_path, after=throttled)


def test_sigkill_mid_stream_keeps_throttled_save(
    launch: Callable[[], Terminal], fake_openai: FakeOpenAI, db_path: Path
) -> None:
    """No handler runs on SIGKILL: what survives is the save made while streaming."""
    term, throttled = start_streaming(launch, fake_openai, db_path)
    term.proc.send_signal(signal.SIGKILL)
    assert term.wait_exit(timeout=5) == -signal.SIGKILL
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
    time.sleep(TOKEN_DELAY * 6)
    assert saved_reply(db_path) == (stopped, MessageStatus.PARTIAL), "the reply went on after Escape"

    # Still usable: the next prompt in the same conversation gets a full reply.
    fake_openai.enqueue(Reply("Second answer arrives intact", delay=0.01))
    mark = term.mark()
    term.type_prompt("And now?")
    term.wait_for("generating", since=mark, timeout=10)
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
    assert_clean_exit(term, term.wait_exit(timeout=8))
