"""What a new conversation shows before its first message: how to start, and how to
set an API key when none is set."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class Welcome(Static):
    def __init__(self, *, needs_api_key: bool) -> None:
        text = Text.assemble(
            ("Start a conversation\n\n", "bold"),
            "Type below and press Enter to send; Ctrl+J adds a new line.\n",
            "Ctrl+N starts a new chat, Ctrl+P opens every command.",
        )
        if needs_api_key:
            text.append(
                "\n\nNo API key is set. Set OPENAI_API_KEY, press F2 to store one, "
                "or set OPENAI_BASE_URL to a local server such as Ollama.",
                style="bold",
            )
        super().__init__(text, id="welcome")
