"""The chat screen's layout at any width: the sidebar beside the chat on a wide terminal
(shown or hidden as the user last chose, remembered across runs), and hidden on a narrow
one (SSH from a phone, a split pane), where Ctrl+B opens it over the chat until a
conversation is picked or the focus leaves it.

The screen carries the state as CSS classes (the look is in codhechat.tcss): Textual's
breakpoints set `-narrow` or `-wide` by width; SIDEBAR_HIDDEN and SIDEBAR_OPEN are ours.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widget import Widget

from codhechat.state import UiState

NARROW_BELOW = 80  # columns: a 32-column sidebar would leave the chat too little
BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]
SHORT_BELOW = 24  # lines: a tall prompt (a paste) must leave the conversation room
VERTICAL_BREAKPOINTS = [(0, "-short"), (SHORT_BELOW, "-tall")]
SIDEBAR_HIDDEN = "sidebar-hidden"  # wide: the user hid it (remembered)
SIDEBAR_OPEN = "sidebar-open"  # narrow: opened over the chat (for now)
STATE_KEY = "sidebar"


def ui_state(screen: Screen[Any]) -> UiState | None:
    return getattr(screen.app, "ui_state", None)


def narrow(screen: Screen[Any]) -> bool:
    """Below NARROW_BELOW columns (the breakpoint class is set on resize; the size is sooner)."""
    return screen.has_class("-narrow") or 0 < screen.app.size.width < NARROW_BELOW


def restore(screen: Screen[Any]) -> None:
    """Show the sidebar on a wide terminal as the user last left it."""
    state = ui_state(screen)
    screen.set_class(state is not None and state.get(STATE_KEY) == "hidden", SIDEBAR_HIDDEN)


def toggle_sidebar(screen: Screen[Any], sidebar: Widget, prompt: Widget) -> None:
    """Ctrl+B: on a narrow terminal, open the sidebar over the chat (or close it); on a
    wide one, show or hide it beside the chat, and remember that."""
    if narrow(screen):
        opening = not screen.has_class(SIDEBAR_OPEN)
        screen.set_class(opening, SIDEBAR_OPEN)
        (sidebar if opening else prompt).focus()
        return
    hiding = not screen.has_class(SIDEBAR_HIDDEN)
    screen.set_class(hiding, SIDEBAR_HIDDEN)
    if hiding:
        prompt.focus()
    if (state := ui_state(screen)) is not None:
        state.set(STATE_KEY, "hidden" if hiding else "shown")


def close_overlay(screen: Screen[Any]) -> None:
    """The sidebar opened over a narrow chat closes once it is done with (a pick, a blur)."""
    screen.remove_class(SIDEBAR_OPEN)
