"""A real terminal for tests: `codhechat` (or one of its shell commands) on a pty.

The pty is the child's controlling terminal, as in an SSH session, so signals and a
hang-up reach the app as they would in real use, and every byte the app writes is
kept: tests read the screen text (escapes removed) or the raw bytes.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

COLS, ROWS = 110, 32

# Make the pty the child's controlling terminal (after Popen's setsid), then become the app:
# same pid, so signals sent to the Popen go to codhechat itself, and closing the master
# makes the kernel hang up the session as an SSH disconnect would.
LAUNCHER = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, '-m', 'codhechat', *sys.argv[1:]])"
)
ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\x1b[\]P_^][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC / DCS / APC / PM strings
    rb"|\x1b[ -/]*[0-~]"  # other escapes
)


class Terminal:
    """One app process on a pty; a thread keeps draining the output so the app never blocks."""

    def __init__(
        self, env: dict[str, str], cwd: Path, args: tuple[str, ...] = (), size: tuple[int, int] = (COLS, ROWS)
    ) -> None:
        """Run `codhechat ARGS...` (the app, with no args) on a new pty of `size` (columns, rows)."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *args],
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

    def raw(self, since: int = 0) -> bytes:
        """Every byte the program wrote since a mark, escapes and all."""
        with self._lock:
            return bytes(self._raw[since:])

    def text(self, since: int = 0) -> str:
        """Output since a mark, escape sequences removed (words stay whole within a style run)."""
        with self._lock:
            raw = bytes(self._raw[since:])
        return ANSI.sub(b"", raw).decode("utf-8", "replace")

    def wait_until(self, check: Callable[[str], bool], what: str, *, since: int = 0, timeout: float = 10.0) -> None:
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

    def wait_exit(self, timeout: float = 20.0) -> int:
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


def terminal_env(base_url: str | None = None) -> dict[str, str]:
    """The environment of a user's terminal for `codhechat`: the test's own (whose XDG
    folders the suite already points at a temporary home), a 256-colour truecolor
    terminal, and the loopback model as the endpoint."""
    env = dict(os.environ)
    env.update(
        OPENAI_API_KEY="sk-test",
        CODHECHAT_MAX_RETRIES="0",
        TERM="xterm-256color",
        COLORTERM="truecolor",
        PYTHONUNBUFFERED="1",
    )
    if base_url is not None:
        env["OPENAI_BASE_URL"] = base_url
    for name in ("COLUMNS", "LINES", "TEXTUAL", "TEXTUAL_DRIVER", "NO_COLOR"):
        env.pop(name, None)
    return env
