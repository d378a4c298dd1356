"""A streaming view's frame timer: one event-loop timer a frame, not a Textual Timer.

Why: Textual's `set_timer` makes a Timer object and a task for each call; when it fires,
the task posts the callback to the widget's message queue, and the widget's own task then
runs it. That is four loop callbacks, and as many wake-ups, to draw one frame, ten times a
second while a reply streams. Here the frame is a `loop.call_later` handle that draws it
itself: one callback. As a Textual timer does, it stops when the widget is removed, and an
error it raises goes to the app's handler (the crash screen), not to the loop's log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.widget import Widget

__all__ = ["FrameTimer"]


class FrameTimer:
    """Calls `callback` once, `delay` seconds after each `start`, while `widget` is attached."""

    def __init__(self, widget: Widget, callback: Callable[[], None]) -> None:
        self._widget, self._callback = widget, callback
        self._handle: asyncio.TimerHandle | None = None

    def start(self, delay: float) -> None:
        """Fire in `delay` seconds (a start already pending is replaced)."""
        self.cancel()
        self._handle = asyncio.get_running_loop().call_later(delay, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        widget = self._widget
        if not widget.is_attached:
            return  # removed meanwhile (another conversation shown): nothing to draw
        try:
            self._callback()
        except Exception as error:  # as Textual's timers do: the app shows it and exits
            widget.app._handle_exception(error)
