"""The help screen (F1): the app's own commands first, grouped as a user looks for them
(chatting, conversations, copying, settings, the app), each with its key, then the keys
that edit the prompt.

The commands come from the command table (codhechat.ui.command_table), so the help
cannot list a key the app does not have; the editing keys are a short, grouped digest
of the prompt's bindings (TextArea's and PromptInput's), each checked by a test.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from codhechat.backends import ChatBackend
from codhechat.ui.command_table import COMMANDS, GROUPS, key_name, unavailable

PALETTE_KEY = "ctrl+p"  # Textual's App.COMMAND_PALETTE_BINDING


@dataclass(frozen=True)
class Row:
    keys: tuple[str, ...]  # Textual key names ("ctrl+w"); none: from the command palette only
    what: str
    detail: str = ""

    @property
    def key_text(self) -> str:
        return " ".join(key_name(key) for key in self.keys) if self.keys else "Ctrl+P…"


EDITING: tuple[Row, ...] = (
    Row(("enter",), "Send"),
    Row(("ctrl+j", "shift+enter"), "New line", "Shift+Enter where the terminal tells it from Enter"),
    Row(("up", "down"), "Earlier prompts", "In an empty prompt; otherwise the cursor moves"),
    Row(("pageup", "pagedown"), "Scroll the conversation"),
    Row(("left", "right", "ctrl+left", "ctrl+right"), "Move", "By character, by word"),
    Row(("home", "end", "ctrl+a", "ctrl+e"), "Start or end of the line"),
    Row(("shift+left", "shift+right", "shift+up", "shift+down", "shift+home", "shift+end"), "Select",
        "Ctrl+Shift+Left/Right by word"),
    Row(("f6", "f7"), "Select the line, select all", "F7 continues a cut reply first, when there is one"),
    Row(("backspace", "delete"), "Delete a character"),
    Row(("ctrl+w", "alt+delete"), "Delete a word", "Left of the cursor, right of it"),
    Row(("ctrl+u", "ctrl+k", "ctrl+shift+k"), "Delete to line start, to line end, the line"),
    Row(("ctrl+x", "ctrl+c", "ctrl+v"), "Cut, copy, paste"),
    Row(("ctrl+z", "ctrl+y"), "Undo, redo", "Ctrl+Z undoes a conversation's delete first, while it can"),
)  # fmt: skip


def sections(backend: ChatBackend) -> list[tuple[str, list[Row]]]:
    """The help's sections: the commands the backend can do, by group, then the editing keys."""
    found: list[tuple[str, list[Row]]] = []
    for group, heading in GROUPS.items():
        commands = [c for c in COMMANDS if c.group == group and unavailable(c.action, backend) is None]
        commands.sort(key=lambda c: not c.key)  # those with a key first; the palette's own after
        rows = [Row((c.key,) if c.key else (), c.title or c.label, c.help) for c in commands]
        if group == "app":
            rows.append(Row((PALETTE_KEY,), "Command palette", "Every command by name, and the themes"))
        found.append((heading, rows))
    found.append(("Editing the prompt", list(EDITING)))
    return found


def section_table(rows: list[Row]) -> Table:
    """One line a row: the key, what it does, and as much of the detail as fits (the
    palette shows it whole)."""
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
    table.add_column("key", style="bold", no_wrap=True, ratio=None)
    table.add_column("what", ratio=1, no_wrap=True, overflow="ellipsis")
    for row in rows:
        what = Text(row.what)
        if row.detail:
            what.append(f"  {row.detail}", style="dim")
        table.add_row(Text(row.key_text), what)
    return table


TWO_COLUMNS_FROM = 110  # terminal columns from which the commands' groups sit side by side


class HelpScreen(ModalScreen[None]):
    """Every key, on top of the chat; Esc, Q or F1 closes it."""

    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close")]  # a modal screen hides the app's F1

    def __init__(self, backend: ChatBackend) -> None:
        super().__init__(classes="dialog-screen")
        self._sections = sections(backend)

    def compose(self) -> ComposeResult:
        *commands, editing = self._sections
        two = self.app.size.width >= TWO_COLUMNS_FROM
        with VerticalScroll(classes="dialog wide", id="help"):
            yield Static(Text("codhechat keys", style="bold"))
            yield Static(Text("Esc closes. Commands without a key are in the command palette (Ctrl+P).", style="dim"))
            # Side by side when wide (chatting and conversations, then the rest), so the app's
            # own keys all show at once; the prompt's editing keys below.
            with Horizontal(id="help-columns"):
                for column in (commands[:2], commands[2:]) if two else (commands,):
                    with Vertical(classes="help-column"):
                        yield from self._section_widgets(column)
            yield from self._section_widgets([editing])

    @staticmethod
    def _section_widgets(sections: list[tuple[str, list[Row]]]) -> ComposeResult:
        for heading, rows in sections:
            yield Static(Text(heading, style="bold underline"), classes="help-heading")
            yield Static(section_table(rows), classes="help-section")
