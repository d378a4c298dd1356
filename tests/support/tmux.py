"""A real terminal for tests and captures: one app in a detached tmux session on a
private tmux server, driven with send-keys and read back with capture-pane."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

COLS, ROWS = 120, 40


class TmuxTerminal:
    """One app in a detached tmux session on a private server, read back with capture-pane."""

    def __init__(self, workdir: Path) -> None:
        self.socket = f"codhechat-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.target = "app"
        self._program = Path()
        self._env: dict[str, str] = {}
        self._runs = 0
        self._status_file = workdir / "exit-status-0"
        self._socket_path: Path | None = None

    def tmux(self, *args: str, check: bool = True) -> str:
        cmd = ["tmux", "-L", self.socket, "-f", "/dev/null", *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        if check and result.returncode != 0:
            pytest.fail(f"{shlex.join(cmd)} exited {result.returncode}: {result.stderr}")
        return result.stdout

    # Processes

    def start(self, program: Path, env: dict[str, str]) -> None:
        """Run `program` with exactly `env` (env -i) in a COLS x ROWS window that stays after
        it exits (remain-on-exit), so its last output can still be read."""
        self._program, self._env = program, env
        self.tmux(
            "new-session", "-d", "-s", self.target, "-x", str(COLS), "-y", str(ROWS),
            "-c", str(self.workdir), self._next_command(),
            ";", "set-option", "-t", self.target, "remain-on-exit", "on",
        )  # fmt: skip
        self._socket_path = Path(self.pane("#{socket_path}"))

    def restart(self) -> None:
        """Run the same program again in the same pane."""
        self.tmux("respawn-pane", "-k", "-t", self.target, self._next_command())

    def _next_command(self) -> str:
        # The shell around the app writes its exit status to a file: tmux 3.3 does not report
        # #{pane_dead_status} reliably for a pane that was respawned (the status stays empty).
        self._runs += 1
        self._status_file = self.workdir / f"exit-status-{self._runs}"
        app = shlex.join(["env", "-i", *(f"{k}={v}" for k, v in self._env.items()), str(self._program)])
        return f"{app}; echo $? > {shlex.quote(str(self._status_file))}"

    def pane(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", self.target, fmt).strip()

    def exit_status(self) -> str:
        return self._status_file.read_text().strip() if self._status_file.exists() else ""

    def wait_exit(self, timeout: float = 10.0) -> int:
        """The app's exit status once it has ended and the pane is dead."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.exit_status()
            if status and self.pane("#{pane_dead}") == "1":
                return int(status)
            if time.monotonic() > deadline:
                self.fail(f"the app did not exit within {timeout} s")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.pane("#{pane_dead}") == "0"

    def close(self) -> None:
        self.tmux("kill-server", check=False)
        if self._socket_path is not None:  # tmux leaves its socket file behind
            self._socket_path.unlink(missing_ok=True)

    # Keys

    def keys(self, *keys: str) -> None:
        """tmux key names: Enter, Tab, Down, C-q..."""
        self.tmux("send-keys", "-t", self.target, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.target, "-l", text)

    # Screen

    def screen(self, *, styles: bool = False, history: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", self.target]
        if styles:
            args.append("-e")
        if history:
            args += ["-S", "-"]
        return self.tmux(*args)

    def wait_until(self, check: Callable[[str], bool], what: str, *, timeout: float = 10.0) -> str:
        """Poll the visible screen until `check(screen)` holds; returns that screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if not self.alive():
                self.fail(f"the app exited (status {self.exit_status()}) while waiting for {what}")
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)

    def wait_for(self, text: str, *, timeout: float = 10.0) -> str:
        return self.wait_until(lambda screen: text in screen, repr(text), timeout=timeout)

    def wait_ready(self, *, timeout: float = 10.0) -> str:
        return self.wait_until(
            lambda s: status_line(s).endswith("ready"), 'the status line to say "ready"', timeout=timeout
        )

    def fail(self, why: str) -> None:
        try:
            screen = self.screen(history=True)
        except Exception as exc:  # the server may be gone
            screen = f"(no screen: {exc})"
        pytest.fail(f"{why}\n--- screen ---\n{screen}")


def status_line(screen: str) -> str:
    """The status bar: the line just above the footer, e.g. ' local  gpt-4o-mini  ready'."""
    lines = [line.rstrip() for line in screen.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines[-2] if len(lines) >= 2 else ""
