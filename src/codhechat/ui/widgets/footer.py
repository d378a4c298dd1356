"""The footer, which on a narrow terminal keeps only the keys a user needs to find the
rest (the command table's `narrow` ones: help, the sidebar, new chat) instead of being
cut after the third; in between, it packs the keys closer."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer

from codhechat.ui.command_table import COMMANDS

KEPT_WHEN_NARROW = frozenset({"submit", "command_palette"} | {c.action for c in COMMANDS if c.narrow})
FEW_BELOW = 96  # columns: every key fits, packed, from here
COMPACT_BELOW = 120  # columns: every key fits with Textual's spacing from here
INESSENTIAL = "-inessential"  # hidden by codhechat.tcss when the footer has class FEW
FEW = "-few"


class ChatFooter(Footer):
    def compose(self) -> ComposeResult:
        for widget in super().compose():
            # A key (Textual's FooterKey, not public) has the action it runs.
            action = getattr(widget, "action", None)
            if isinstance(action, str) and action not in KEPT_WHEN_NARROW:
                widget.add_class(INESSENTIAL, update=False)  # not mounted yet: styled when it is
            yield widget

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < COMPACT_BELOW  # less space between keys
        self.set_class(event.size.width < FEW_BELOW, FEW)
