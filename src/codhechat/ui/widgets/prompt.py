"""The multi-line prompt: Enter sends, Ctrl+J (or Shift+Enter) starts a new line."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter"})  # Ctrl+J is a newline in every terminal


class PromptInput(TextArea):
    BINDINGS = [
        Binding("enter", "submit", "Send", key_display="⏎", show=True),
        Binding("ctrl+j", "newline", "Newline", key_display="^j", show=True),
        # The prompt is a few lines high: page keys are more use scrolling the conversation.
        Binding("pageup", "screen.page_messages(-1)", "Scroll up", show=False),
        Binding("pagedown", "screen.page_messages(1)", "Scroll down", show=False),
    ]

    class Submitted(Message):
        def __init__(self, prompt: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs  # type: ignore[arg-type]
        )

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
        elif event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_newline()
        else:
            await super()._on_key(event)

    def action_submit(self) -> None:
        if self.text.strip():  # an empty prompt is never sent
            self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        start, end = self.selection
        self._replace_via_keyboard("\n", start, end)
