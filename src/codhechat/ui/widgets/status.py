"""The status line: mode, the link to the server (remote mode), the open conversation's model
and token total, and what the app is doing."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class StatusBar(Widget):
    mode: reactive[str] = reactive("local")
    connection: reactive[str] = reactive("")  # remote mode: connected / reconnecting in Ns / offline
    model: reactive[str] = reactive("")
    tokens: reactive[str] = reactive("")  # the open conversation's token total, if reported
    state: reactive[str] = reactive("ready")
    warning: reactive[str] = reactive("")

    def render(self) -> Text:
        text = Text.assemble((f" {self.mode} ", "reverse"), " ")
        if self.connection:
            style = "green" if self.connection.startswith("●") else "bold yellow"
            text.append(self.connection, style=style)
            text.append("  ")
        text.append(self.model, style="bold")
        if self.tokens:
            text.append(f"  {self.tokens}", style="dim")
        text.append(f"  {self.state}", style="italic")
        if self.warning:
            text.append(f"  ⚠ {self.warning}", style="bold")
        return text
