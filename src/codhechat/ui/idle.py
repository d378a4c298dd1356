"""Background warm-ups that wait for the user to pause.

After the first frame the app loads what later actions need (the model client, the
syntax highlighter, sqlite-utils): hundreds of milliseconds of imports on worker
threads, which hold the interpreter's lock. Started while the user is opening a
conversation, they would double its time. So each waits until the user has been idle
(no key, no click) for `delay` seconds and the app itself is not busy (its timer came
on time, and the screen has been refreshed), one at a time, each after a fresh pause; but never more than `longest` seconds (someone typing
their first message without a pause still gets a warmed-up model client).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.timer import Timer

LATE_S = 0.1  # a timer this late means the app was busy, not idle


class WhenIdle:
    def __init__(self, app: App[Any], delay: float, longest: float = 3.0) -> None:
        self.app, self.delay, self.longest = app, delay, longest
        self._pending: list[Callable[[], object]] = []
        self._timer: Timer | None = None
        self._since = 0.0  # when the one waiting began to wait
        self._due = 0.0  # when its timer should fire

    def add(self, callback: Callable[[], object]) -> None:
        """Run `callback` (once) after the next pause of the user's."""
        self._pending.append(callback)
        if self._timer is None:
            self._arm()

    def _arm(self, since: float | None = None) -> None:
        self._since = time.monotonic() if since is None else since
        self._due = time.monotonic() + self.delay
        self._timer = self.app.set_timer(self.delay, self._fire)

    @property
    def waiting(self) -> int:
        """How many warm-ups have yet to start (bench/streaming.py waits for none, as a user
        who paused before sending would)."""
        return len(self._pending)

    def touch(self) -> None:
        """The user did something: what is waiting waits for the next pause."""
        if self._timer is not None and time.monotonic() - self._since < self.longest - self.delay:
            self._due = time.monotonic() + self.delay
            self._timer.reset()

    def _fire(self) -> None:
        self._timer = None
        late = time.monotonic() - self._due > LATE_S  # the event loop was busy: not a pause
        if late and time.monotonic() - self._since < self.longest:
            self._arm(self._since)
            return
        self.app.call_after_refresh(self._run)  # after what the last key asked for is drawn

    def _run(self) -> None:
        if self._pending:
            self._pending.pop(0)()
        if self._pending:
            self._arm()
