"""The footer, which on a narrow terminal keeps only the keys a user needs to find the
rest (the command table's `narrow` ones: help, the sidebar, new chat) instead of being
cut after the third; in between, it packs the keys closer.

It is also cheaper than Textual's own at start-up, where its cost showed (about a sixth
of the first frame, `bench/startup.py`): Textual's footer rebuilds every key whenever
the screen's bindings are refreshed (each focus change), and each new key restyles
itself once for its `compact` flag. This one rebuilds only when what it would show
differs from what it shows, and gives each key its flag before it is mounted."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widgets import Footer

from codhechat.ui.command_table import COMMANDS

KEPT_WHEN_NARROW = frozenset({"submit", "command_palette"} | {c.action for c in COMMANDS if c.narrow})
FEW_BELOW = 96  # columns: every key fits, packed, from here
COMPACT_BELOW = 120  # columns: every key fits with Textual's spacing from here
INESSENTIAL = "-inessential"  # hidden by codhechat.tcss when the footer has class FEW
FEW = "-few"


def shown_bindings(screen: Screen[Any]) -> tuple[object, ...]:
    """What a footer on `screen` draws its keys from (Textual's Footer.compose reads these)."""
    return tuple((binding, enabled, tooltip) for _, binding, enabled, tooltip in screen.active_bindings.values())


class ChatFooter(Footer):
    _drawn: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        self._drawn = shown_bindings(self.screen) if self._bindings_ready else None
        for widget in super().compose():
            # A key (Textual's FooterKey, not public) has the action it runs.
            action = getattr(widget, "action", None)
            if isinstance(action, str) and action not in KEPT_WHEN_NARROW:
                widget.add_class(INESSENTIAL, update=False)  # not mounted yet: styled when it is
            compact = getattr(type(widget), "compact", None)
            bound = getattr(widget, "_reactive_connect", None) or {}  # data_bind's, until mounted
            if isinstance(compact, Reactive) and "compact" in bound:  # binding it to ours then restyles nothing
                widget.set_reactive(compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            yield widget

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._drawn is not None and screen is self.screen and shown_bindings(screen) == self._drawn:
            return  # a refresh that changed nothing this footer shows
        super().bindings_changed(screen)

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < COMPACT_BELOW  # less space between keys
        self.set_class(event.size.width < FEW_BELOW, FEW)
