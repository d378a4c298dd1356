"""Untrusted strings on their way into widgets.

Textual reads a plain `str` handed to most widgets (Static, Label, tree nodes,
notifications) as content markup, so `[/INST]` in a title raised MarkupError and
`[bold]` restyled text. Anything not written by us is passed as a Rich `Text`
made here, which is never parsed, with its control characters spelled out.
"""

from __future__ import annotations

from rich.text import Text

from codhechat.textsafe import visible


def plain(text: str, style: str = "") -> Text:
    """`text` exactly as written (never markup), safe for the terminal."""
    return Text(visible(text), style=style)
