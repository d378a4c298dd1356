"""Ask for an API key and store it in the user's config file (mode 0600)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from codhechat.config import save_to_config_file
from codhechat.errors import CodheError


class ApiKeyScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="api-key-dialog"):
            yield Label("Paste your API key. It is stored in your config file, readable by you only.")
            yield Input(password=True, placeholder="sk-…", id="api-key")
            yield Label("Enter saves · Esc cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        key = event.value.strip()
        if not key:
            self.dismiss(None)
            return
        try:
            path = save_to_config_file("api_key", key)
        except (CodheError, OSError) as exc:
            self.notify(str(exc), title="The key was not saved", severity="error")
            return
        self.notify(f"Saved to {path}", title="API key stored")
        self.dismiss(key)
