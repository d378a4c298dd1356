"""Copy the last reply, its last code block or any message shown, to the clipboard.

By OSC 52: the terminal does the copying, so it works over SSH, where the terminal
allows it (some do not, or ask first; tmux needs `set-clipboard on`)."""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual.screen import Screen

from codhechat.ui.screens.dialogs import PickOne
from codhechat.ui.session import ChatSession
from codhechat.ui.text import plain

# A fenced code block's body (``` or ~~~, optionally with a language).
CODE_BLOCK = re.compile(r"^ {0,3}(```|~~~)[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.MULTILINE | re.DOTALL)


def _copy(screen: Screen[Any], text: str, what: str) -> None:
    screen.app.copy_to_clipboard(text)
    screen.notify(
        f"Copied {what} ({len(text):,} characters) by OSC 52. If nothing arrived, "
        "your terminal may not support clipboard access (in tmux: set-clipboard on).",
        title="Copied",
    )


def copy_last_reply(screen: Screen[Any], session: ChatSession) -> None:
    replies = [text for role, text in session.texts() if role == "assistant" and text]
    if not replies:
        screen.notify("There is no reply here to copy.")
        return
    _copy(screen, replies[-1], "the last reply")


def copy_code_block(screen: Screen[Any], session: ChatSession) -> None:
    for role, text in reversed(session.texts()):
        blocks = [m.group(2).removesuffix("\n") for m in CODE_BLOCK.finditer(text)] if role == "assistant" else []
        if blocks:
            _copy(screen, blocks[-1], "the last code block")
            return
    screen.notify("There is no code block here to copy.")


def copy_message(screen: Screen[Any], session: ChatSession) -> None:
    texts = [(role, text) for role, text in session.texts() if text]
    if not texts:
        screen.notify("There is no message here to copy.")
        return
    choices: list[Text | str] = [
        Text.assemble(("You: " if role == "user" else "Assistant: ", "bold"), plain(" ".join(text.split())[:70]))
        for role, text in texts
    ]

    def chosen(index: int | None) -> None:
        if index is not None:
            role, text = texts[index]
            _copy(screen, text, "your message" if role == "user" else "the reply")

    screen.app.push_screen(PickOne("Copy which message?", choices), chosen)
