"""The multi-line prompt: Enter sends, Ctrl+J (or Shift+Enter) starts a new line,
Up/Down in an empty prompt recall earlier prompts (kept across runs), Tab after `@`
completes a file's path as a shell does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from codhechat.state import PromptHistory
from codhechat.textsafe import has_controls, visible
from codhechat.ui.path_completion import complete

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

    class FileNamed(Message):
        """Tab completed `@path` to a file: attach it."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, **kwargs: Any) -> None:  # the Widget options (id, classes, ...), passed on
        super().__init__(
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            **kwargs,
        )
        self.recall: list[str] = []  # earlier prompts, oldest first
        self._recalled: int | None = None  # index into history of the prompt shown, if any
        self._history = PromptHistory()

    def on_mount(self) -> None:
        self.recall = self._history.load()

    def remember(self, text: str) -> None:
        """Keep a sent prompt for Up/Down, in this run and the next ones."""
        history = PromptHistory.added(self.recall, text)
        if history is not self.recall:
            self.recall = history
            self.run_worker(asyncio.to_thread(self._history.save, list(history)), exit_on_error=False)

    def _recalling(self) -> bool:
        """Up/Down recall only in an empty prompt, or over an untouched recalled one."""
        if not self.text:
            return True
        return self._recalled is not None and self.text == self.recall[self._recalled]

    def _recall(self, index: int | None) -> None:
        self._recalled = index
        self.text = "" if index is None else self.recall[index]
        self.move_cursor(self.document.end)

    def on_key(self, event: events.Key) -> None:
        """Runs before TextArea's own key handler (which would insert a newline on Enter),
        and skips it with prevent_default() for the keys handled here; stop() keeps a
        handled Up/Down from reaching the cursor bindings."""
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
        elif event.key in ("up", "down") and self.recall and self._recalling():
            event.stop()
            event.prevent_default()
            if event.key == "up":
                at = len(self.recall) if self._recalled is None or not self.text else self._recalled
                self._recall(max(0, at - 1))
            elif self._recalled is not None and self.text:
                newer = self._recalled + 1
                self._recall(newer if newer < len(self.recall) else None)
        elif event.key == "tab" and (typed := self._typed_path()) is not None:
            event.stop()
            event.prevent_default()  # Tab after @ completes; elsewhere it moves the focus
            self._complete(typed)
        elif event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_newline()

    def _typed_path(self) -> str | None:
        """The path being typed after an `@` just before the cursor, if any."""
        row, column = self.cursor_location
        before = self.document.get_line(row)[:column]
        word = before.split()[-1] if before and not before[-1].isspace() else ""
        return word[1:] if word.startswith("@") else None

    def _complete(self, typed: str) -> None:
        row, column = self.cursor_location
        completion = complete(typed, Path.cwd())
        if completion.text != typed:
            result = self.replace(completion.text, (row, column - len(typed)), (row, column))
            self.move_cursor(result.end_location)
        if completion.file is not None:
            self.post_message(self.FileNamed(completion.file))
        elif completion.choices:
            self.notify("  ".join(completion.choices), title="Matching files", timeout=6)

    def on_paste(self, event: events.Paste) -> None:
        """Pasted text may hold terminal escapes (copied from a log or a web page): they
        are spelled out, so what the input shows is what is sent, and none reaches the
        terminal raw. Runs before TextArea's own paste handler, which it then skips."""
        if not has_controls(event.text):
            return
        event.prevent_default()
        event.stop()
        start, end = self.selection
        result = self.replace(visible(event.text), start, end)
        self.move_cursor(result.end_location)

    def action_submit(self) -> None:
        self._recalled = None
        if self.text.strip():  # an empty prompt is never sent
            self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        if self.read_only:
            return
        start, end = self.selection
        self.replace("\n", start, end, maintain_selection_offset=False)  # as typing it would
