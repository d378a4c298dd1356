"""The status line: mode, model, and what the app is doing."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class StatusBar(Widget):
    mode: reactive[str] = reactive("local")
    model: reactive[str] = reactive("")
    state: reactive[str] = reactive("ready")
    warning: reactive[str] = reactive("")

    def render(self) -> Text:
        text = Text.assemble((f" {self.mode} ", "reverse"), " ", (self.model, "bold"))
        text.append(f"  {self.state}", style="italic")
        if self.warning:
            text.append(f"  ⚠ {self.warning}", style="bold")
        return text
