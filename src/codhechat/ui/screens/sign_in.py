"""Ask for an account's username and password, to sign in to the server again (its
secret changed, the account was signed out everywhere) or as someone else."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from codhechat.ui.text import plain


class SignInScreen(ModalScreen[tuple[str, str] | None]):
    """Dismissed with (username, password), or None (Esc)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, server: str, why: str = "") -> None:
        super().__init__()
        self.server = server
        self.why = why

    def compose(self) -> ComposeResult:
        with Vertical(id="sign-in-dialog"):
            yield Label(plain(f"Sign in to {self.server}"))
            if self.why:
                yield Label(plain(self.why), classes="hint")
            yield Input(placeholder="username", id="sign-in-username")
            yield Input(password=True, placeholder="password", id="sign-in-password")
            yield Label("Enter signs in · Esc cancels · an account is made with codhechat login --register",
                        classes="hint")  # fmt: skip

    def on_input_submitted(self, event: Input.Submitted) -> None:
        username = self.query_one("#sign-in-username", Input).value.strip()
        password = self.query_one("#sign-in-password", Input).value
        if event.input.id == "sign-in-username" or not password:
            self.query_one("#sign-in-password", Input).focus()
            return
        if username:
            self.dismiss((username, password))
        else:
            self.query_one("#sign-in-username", Input).focus()
