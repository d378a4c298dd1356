"""Every command of the app, declared once: its key, its footer label, its palette entry,
and the backend ability it needs.

The key bindings (BINDINGS of the app and of the chat screen, which the footer and the
keys panel show) and the command palette (CommandTable, a Textual command Provider)
are both made from this table, so a command cannot be in one and missing from, or
described differently in, the other.

A command the backend cannot do (a classic server cannot pin) is never a key that does
nothing: its key says why (a toast), and the palette shows it greyed, with the reason.
A command that cannot run now for another reason (no delete to undo, no reply to
continue) is hidden, and a priority key then falls through to the focused widget.
`ChatScreen.why_not()` says why in words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider

from codhechat.backends import (
    ATTACH,
    BRANCHES,
    CONTINUE,
    CONVERSATION_OPTIONS,
    DELETE,
    EDIT,
    PIN,
    REGENERATE,
    RENAME,
    SEARCH,
    SIGN_IN,
    TOOLS,
    ChatBackend,
    supports,
)

Group = Literal["chatting", "conversations", "copying", "settings", "app"]
GROUPS: dict[Group, str] = {  # the help screen's sections, in order
    "chatting": "Chatting",
    "conversations": "Conversations",
    "copying": "Copying",
    "settings": "Settings",
    "app": "The app",
}


@dataclass(frozen=True)
class Command:
    action: str  # the action's name, run on the app or on the chat screen (`on`)
    label: str = ""  # the key's name in the footer and the keys panel (F1)
    key: str | None = None
    title: str | None = None  # in the command palette; None: a key only
    help: str = ""  # the palette's line under the title
    needs: str | None = None  # the backend ability it needs (codhechat.backends)
    on: Literal["chat", "app"] = "chat"
    footer: bool = False  # shown in the footer (else only in the keys panel)
    priority: bool = False  # before the focused widget's own use of the key
    group: Group = "chatting"  # its section of the help screen (F1)
    narrow: bool = False  # kept in the footer of a narrow terminal (widgets/footer.py)

    @property
    def palette_help(self) -> str:
        return f"{self.help} ({key_name(self.key)})" if self.key else self.help

    @property
    def gated(self) -> bool:
        """Its key runs through `gated`, which says why when the backend cannot do it. (Not
        the tools, nor signing in: without MCP servers configured, or in local mode, there is
        nothing to say, so no command.)"""
        return self.needs is not None and not self.priority and self.needs not in (TOOLS, SIGN_IN)

    def binding(self) -> Binding:
        assert self.key is not None
        action = f"gated({self.action!r})" if self.gated else self.action
        return Binding(self.key, action, self.label, show=self.footer, priority=self.priority)


KEY_NAMES = {
    "ctrl": "Ctrl", "shift": "Shift", "alt": "Alt", "escape": "Esc", "enter": "Enter", "backspace": "Backspace",
    "delete": "Delete", "home": "Home", "end": "End", "pageup": "PgUp", "pagedown": "PgDn",
    "up": "Up", "down": "Down", "left": "Left", "right": "Right",
}  # fmt: skip


def key_name(key: str) -> str:
    """How a key is written in help texts: "ctrl+n" is Ctrl+N, "escape" is Esc (the first
    of a binding's keys)."""
    return "+".join(KEY_NAMES.get(part, part.upper()) for part in key.split(",")[0].split("+"))


COMMANDS: tuple[Command, ...] = (
    # The chat screen; the footer shows these in this order.
    Command("new_conversation", "New chat", "ctrl+n", "New conversation", "Start a new chat", footer=True, narrow=True,
            group="conversations"),
    Command("stop", "Stop", "escape", "Stop generating", "Stop the reply, keep what arrived", footer=True),
    Command("retry", "Retry", "ctrl+r", "Retry reply", "Generate the failed or stopped reply again", footer=True),
    Command("toggle_sidebar", "Sidebar", "ctrl+b", "Toggle sidebar", "Show or hide the conversation list", footer=True,
            narrow=True, group="conversations"),
    Command("set_api_key", "API key", "f2", "Set API key", "Store an API key in the config file", group="settings"),
    Command("focus_prompt", "Prompt", "ctrl+l", help="Back to the prompt from the sidebar or the messages"),
    Command("search", "Search", "ctrl+f", "Search conversations", "Every conversation's text, as you type", needs=SEARCH, group="conversations"),
    Command("rename", "Rename", "f3", "Rename conversation", "The open one, or the one selected in the sidebar", needs=RENAME, group="conversations"),
    Command("toggle_pin", "Pin/unpin", "f4", "Pin or unpin conversation", "Pinned conversations head the sidebar", needs=PIN, group="conversations"),
    Command("delete", "Delete", "f8", "Delete conversation", "After a confirmation; Ctrl+Z undoes it for a few seconds", needs=DELETE, group="conversations"),
    # Only while a delete can be undone (see ChatScreen.why_not); otherwise Ctrl+Z is the prompt's own undo.
    Command("undo_delete", "Undo delete", "ctrl+z", "Undo delete", "Bring back the conversation (or version) just deleted",
            priority=True, group="conversations"),
    Command("regenerate", "Regenerate", "ctrl+g", "Regenerate reply",
            "A new version of the last reply (the old one stays, one branch away)", needs=REGENERATE),
    Command("continue_reply", "Continue", "f7", "Continue reply",
            "The rest of a reply cut at the length limit (or stopped), in the same reply", needs=CONTINUE,
            priority=True),  # only while there is such a reply (see ChatScreen.why_not); otherwise the prompt's select-all
    Command("attach_file", "Attach", "f10", "Attach file…",
            "A file for your next message (or type @path, then Tab)", needs=ATTACH, group="chatting"),
    Command("attach_resource", title="Attach an MCP resource…",
            help="A resource of an MCP server, sent with your next message", needs=TOOLS, group="chatting"),
    Command("save_attachment", title="Save an attached file…",
            help="Save a file of a message shown to the working folder", needs=ATTACH, group="copying"),
    Command("copy_last_reply", "Copy reply", "ctrl+o", "Copy last reply", "To the clipboard, by OSC 52", group="copying"),
    Command("copy_code_block", title="Copy last code block", help="The last code block of a reply, to the clipboard", group="copying"),
    Command("copy_message", title="Copy a message…", help="Pick any message shown, to the clipboard", group="copying"),
    Command("choose_model", "Model…", "f5", "Model…", "This conversation's model: from the endpoint's list, or type one",
            needs=CONVERSATION_OPTIONS, group="settings"),
    Command("choose_system_prompt", "System prompt…", "f9", "System prompt…",
            "This conversation's system prompt: a preset or your own", needs=CONVERSATION_OPTIONS, group="settings"),
    Command("choose_generation", title="Generation settings…",
            help="This conversation's temperature, top p, max tokens, seed, reasoning effort", needs=CONVERSATION_OPTIONS,
            group="settings"),
    Command("edit_message", "Edit a message…", "f12", "Edit a message…",
            "Change one of your messages and resend it; the old version stays, one branch away", needs=EDIT),
    Command("previous_branch", "Previous version", "alt+left", "Previous version",
            "Of the message with several (edited, regenerated; Alt+Up/Down choose which), with what follows it",
            needs=BRANCHES),
    Command("next_branch", "Next version", "alt+right", "Next version",
            "Of the message with several, with what follows it", needs=BRANCHES),
    Command("earlier_branch", "Earlier versioned", "alt+up", "Choose an earlier message with versions",
            "For Previous/Next version to switch (they switch the newest by default)", needs=BRANCHES),
    Command("later_branch", "Later versioned", "alt+down", "Choose a later message with versions",
            "For Previous/Next version to switch", needs=BRANCHES),
    Command("delete_branch", title="Delete this version…",
            help="Of the message with several (Alt+Up/Down choose which): it and what follows (Ctrl+Z undoes it)",
            needs=BRANCHES, group="conversations"),
    # Only in remote mode (see ChatScreen.why_not); the status line offers it once the server refuses the token.
    Command("sign_in", title="Sign in…", help="To the server again (it refused your sign-in), or as another account",
            needs=SIGN_IN, group="settings"),
    Command("choose_tools", title="Tools…", help="MCP servers and their tools: switch them on or off here",
            on="app", needs=TOOLS, group="settings"),
    # The app (Textual's own palette has "Keys" and "Quit").
    Command("toggle_help", "Keys", "f1", help="Show or hide this list of keys", on="app", footer=True, narrow=True,
            group="app"),
    Command("toggle_theme", "Theme", "ctrl+t", "Toggle dark/light theme", "Switch between dark and light", on="app", footer=True, group="settings"),
    Command("quit", "Quit", "ctrl+q", help="Leave codhechat; a reply being generated keeps what arrived",
            on="app", footer=True, priority=True, group="app"),
)  # fmt: skip
BY_ACTION = {command.action: command for command in COMMANDS}


def bindings(on: Literal["chat", "app"]) -> list[BindingType]:
    return [command.binding() for command in COMMANDS if command.on == on and command.key]


# What a backend without the ability cannot do, in words ("... cannot pin conversations").
CANNOT = {
    SEARCH: "search conversations", RENAME: "rename conversations", PIN: "pin conversations",
    DELETE: "delete conversations", REGENERATE: "regenerate replies", CONTINUE: "continue a reply",
    CONVERSATION_OPTIONS: "keep a model and system prompt per conversation", EDIT: "edit sent messages",
    BRANCHES: "keep versions of messages", ATTACH: "take attachments (a classic server has no uploads)",
}  # fmt: skip


def unavailable(action: str, backend: ChatBackend) -> str | None:
    """Why the backend cannot do `action`, or None if it can (or the action needs nothing)."""
    command = BY_ACTION.get(action)
    if command is None or command.needs is None or supports(backend, command.needs):
        return None
    return f"Not available: {backend.mode} cannot {CANNOT.get(command.needs, 'do that')}."


def allowed(screen: Any, action: str, parameters: tuple[object, ...]) -> bool:
    """The chat screen's check_action: a gated key is allowed when the backend cannot do its
    command (it then says why), else when the command can run now."""
    if action == "gated" and parameters:
        name = str(parameters[0])
        return unavailable(name, screen.backend) is not None or screen.why_not(name) is None
    return screen.why_not(action) is None


class Gated:
    """The chat screen's `gated` action (a mixin): run a command, or say why the backend cannot."""

    backend: ChatBackend
    notify: Any
    run_action: Any

    async def action_gated(self, action: str) -> None:
        if (why := unavailable(action, self.backend)) is not None:
            self.notify(why, severity="warning")
        else:
            await self.run_action(action)


class CommandTable(Provider):
    """The command palette's entries for the table's commands that can run now."""

    def _offered(self) -> Iterator[tuple[Command, Callable[[], Any], str | None]]:
        """(command, what running it does, why the backend cannot do it)."""
        chat = self.app.screen_stack[0] if self.app.screen_stack else None
        for command in COMMANDS:
            target = self.app if command.on == "app" else chat
            if not command.title or target is None:
                continue
            why = unavailable(command.action, target.backend) if command.gated and hasattr(target, "backend") else None
            if why is not None:  # greyed, saying why
                yield command, partial(self.app.notify, why, severity="warning"), why
            elif target.check_action(command.action, ()):  # else hidden when it cannot run now, as its key
                yield command, partial(self.app.run_action, command.action, target), None

    async def discover(self) -> Hits:
        for command, run, why in self._offered():
            assert command.title is not None
            title = Text(command.title, style="dim") if why else command.title
            yield DiscoveryHit(title, run, text=command.title, help=why or command.palette_help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command, run, why in self._offered():
            assert command.title is not None
            if (score := matcher.match(command.title)) > 0:
                shown = Text(command.title, style="dim") if why else matcher.highlight(command.title)
                yield Hit(score, shown, run, text=command.title, help=why or command.palette_help)
