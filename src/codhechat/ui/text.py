"""Untrusted strings on their way into widgets.

Textual reads a plain `str` handed to most widgets (Static, Label, tree nodes,
notifications) as content markup, so `[/INST]` in a title raised MarkupError and
`[bold]` restyled text. Anything not written by us is passed as a Rich `Text`
made here, which is never parsed, with its control characters spelled out.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Input

from codhechat.textsafe import has_controls, visible


def plain(text: str, style: str = "") -> Text:
    """`text` exactly as written (never markup), safe for the terminal."""
    return Text(visible(text), style=style)


class PlainInput(Input):
    """A one-line field whose pasted text has its control characters spelled out, so a
    paste cannot put a terminal escape on screen (the field shows what it will save)."""

    def on_paste(self, event: events.Paste) -> None:
        if not has_controls(event.text):
            return  # Input's own handler takes it
        event.prevent_default()
        event.stop()
        line = visible(event.text.splitlines()[0] if event.text.splitlines() else "")
        start, end = sorted(self.selection)
        self.replace(line, start, end)
