"""The status line: mode, the link to the server (remote mode), the open conversation's model
and token total, and what the app is doing."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from codhechat.models import ConnectionState
from codhechat.textsafe import visible


class StatusBar(Widget):
    mode: reactive[str] = reactive("local")
    connection: reactive[str] = reactive("")  # remote mode: connected / reconnecting in Ns / offline
    model: reactive[str] = reactive("")
    tokens: reactive[str] = reactive("")  # how full the context was at the last reply, if reported
    state: reactive[str] = reactive("ready")
    warning: reactive[str] = reactive("")

    def __init__(self, **kwargs: Any) -> None:  # the Widget options (id, classes, ...), passed on
        super().__init__(**kwargs)
        self._link: ConnectionState | None = None

    def show_replies(self, generating_here: bool, elsewhere: int) -> None:
        """Whether the open conversation's reply is being generated, and how many others are."""
        state = "generating…  Esc stops" if generating_here else "ready"
        self.state = state + (f"  ({elsewhere} more generating)" if elsewhere else "")

    def show_link(self, state: ConnectionState) -> None:
        """The link's new state; while reconnecting, the countdown ticks every second."""
        if self._link is None:
            self.set_interval(1.0, self._describe_link)
        self._link = state
        self._describe_link()

    def _describe_link(self) -> None:
        if self._link is not None:
            self.connection = self._link.describe(time.monotonic())

    def render(self) -> Text:
        # The mode names a server and the model is whatever a server calls it: both untrusted.
        text = Text.assemble((f" {visible(self.mode)} ", "reverse"), " ")
        if self.connection:
            style = "green" if self.connection.startswith("●") else "bold yellow"
            text.append(visible(self.connection), style=style)
            text.append("  ")
        text.append(visible(self.model), style="bold")
        if self.tokens:
            text.append(f"  {self.tokens}", style="dim")
        text.append(f"  {visible(self.state)}", style="italic")
        if self.warning:
            text.append(f"  ⚠ {visible(self.warning)}", style="bold")
        return text
