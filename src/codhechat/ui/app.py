"""The Textual application: theme, global keys, command palette, shutdown."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.screen import Screen

from codhechat.backends import ChatBackend
from codhechat.state import UiState
from codhechat.textsafe import visible
from codhechat.ui import crash
from codhechat.ui.screens.chat import ChatScreen

THEMES = {"dark": "textual-dark", "light": "textual-light"}
HANGUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def stylesheet_path() -> Path:
    """codhechat.tcss: inside the installed package, else at the checkout's root."""
    packaged = Path(__file__).resolve().parent.parent / "codhechat.tcss"
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[3] / "codhechat.tcss"


class CodheChatApp(App[None]):
    TITLE = "codhechat"
    CSS_PATH = stylesheet_path()
    BINDINGS = [
        Binding("f1", "toggle_help", "Keys"),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        backend: ChatBackend,
        *,
        ui_state: UiState | None = None,
        theme: str | None = None,
        default_theme: str | None = None,
        needs_api_key: bool = False,
        warnings: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.warnings = list(warnings or [])  # about the configuration: shown once, at start
        self.ui_state = ui_state or UiState()
        self.needs_api_key = needs_api_key
        self._hangup_early = False
        self._crash: BaseException | None = None
        # A --theme flag wins for this run; otherwise the last choice; otherwise the config.
        chosen = theme or self.ui_state.get("theme") or default_theme or "dark"
        self._start_theme = THEMES.get(chosen, chosen)

    def get_default_screen(self) -> Screen:
        return ChatScreen(self.backend, needs_api_key=self.needs_api_key)

    def on_mount(self) -> None:
        wanted = self._start_theme
        self.theme = wanted if wanted in self.available_themes else "textual-dark"
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        for sig in HANGUP_SIGNALS:
            try:
                asyncio.get_running_loop().add_signal_handler(sig, self._on_hangup)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not on the main thread (tests) or not on this platform
        if self._hangup_early:
            self._on_hangup()
        for warning in self.warnings:
            self.notify(warning, title="Configuration", severity="warning", timeout=15)

    def catch_early_signals(self) -> None:
        """Remember a SIGTERM/SIGHUP that arrives before on_mount, instead of dying
        with the terminal still in raw mode; on_mount then quits cleanly."""

        def remember(signum: int, frame: object) -> None:
            self._hangup_early = True

        for sig in HANGUP_SIGNALS:
            signal.signal(sig, remember)

    def _remember_theme(self, theme: object) -> None:
        name = getattr(theme, "name", None)
        if name:
            self.ui_state.set("theme", name)

    def _on_hangup(self) -> None:
        """SIGTERM or an SSH hang-up: keep what arrived, then leave cleanly."""
        self.call_later(self.action_quit)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is plain text: they carry titles, model names and error
        texts from elsewhere, which Textual would otherwise read as markup (and a
        stray `[/x]` would raise). Widgets' and screens' notify() land here too."""
        super().notify(visible(message), title=visible(title), severity=severity, timeout=timeout, markup=False)

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header shows a conversation's title, which came from a message: spell out controls."""
        return super().format_title(visible(title), visible(sub_title))

    def action_toggle_help(self) -> None:
        """Every key that works where the focus is, beside the screen (Textual's help panel)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    async def action_quit(self) -> None:
        screen = self.screen_stack[0] if self.screen_stack else None
        if isinstance(screen, ChatScreen):
            await screen.stop_all()
            await screen.finish_pending_delete()  # confirmed: the undo window just closes early
        self.exit()

    async def on_unmount(self) -> None:
        await self.backend.aclose()

    # Crash handling. Textual prints an unhandled error's traceback with local variables,
    # which can hold an API key; a user gets one plain line instead (crash.py). Textual 8
    # has no public hook for an unhandled error (Textualize/textual#2818 asks for one), so
    # these two private methods are overridden: _handle_exception is where the error is
    # known, _fatal_error is what prints the traceback. Exiting goes through the public panic().

    def _handle_exception(self, error: Exception) -> None:
        if self._crash is None:
            self._crash = error  # the first: Textual also shows only the first
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        self.bell()
        self.panic(crash.report(self._crash))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        chat = self.screen_stack[0] if self.screen_stack else None
        if isinstance(chat, ChatScreen):
            yield SystemCommand("New conversation", "Start a new chat (Ctrl+N)", chat.action_new_conversation)
            yield SystemCommand("Stop generating", "Stop the reply, keep what arrived (Esc)", chat.action_stop)
            yield SystemCommand("Retry reply", "Generate the failed or stopped reply again (Ctrl+R)", chat.action_retry)
            if chat.can("regenerate"):
                yield SystemCommand("Regenerate reply", "Replace the last reply with a new one (Ctrl+G)", chat.action_regenerate)
            if chat.can("edit_message"):
                yield SystemCommand("Edit a message…", "Change one of your messages and resend it; later messages are deleted (F12)", chat.action_edit_message)
            if chat.can("choose_model"):
                yield SystemCommand("Model…", "This conversation's model: from the endpoint's list, or type one (F5)", chat.action_choose_model)
            if chat.can("choose_system_prompt"):
                yield SystemCommand("System prompt…", "This conversation's system prompt: a preset or your own (F9)", chat.action_choose_system_prompt)
            yield SystemCommand("Copy last reply", "To the clipboard, by OSC 52 (Ctrl+O)", chat.action_copy_last_reply)
            yield SystemCommand("Copy last code block", "The last code block of a reply, to the clipboard", chat.action_copy_code_block)
            yield SystemCommand("Copy a message…", "Pick any message shown, to the clipboard", chat.action_copy_message)
            if chat.can("search"):
                yield SystemCommand("Search conversations", "Every conversation's text, as you type (Ctrl+F)", chat.action_search)
            if chat.can("rename"):
                yield SystemCommand("Rename conversation", "The open one, or the one selected in the sidebar (F3)", chat.action_rename)
            if chat.can("toggle_pin"):
                yield SystemCommand("Pin or unpin conversation", "Pinned conversations head the sidebar (F4)", chat.action_toggle_pin)
            if chat.can("delete"):
                yield SystemCommand("Delete conversation", "After a confirmation; Ctrl+Z undoes it for a few seconds (F8)", chat.action_delete)
            if chat.can("undo_delete"):
                yield SystemCommand("Undo delete", "Bring back the conversation just deleted (Ctrl+Z)", chat.action_undo_delete)
            yield SystemCommand("Toggle sidebar", "Show or hide the conversation list (Ctrl+B)", chat.action_toggle_sidebar)
            yield SystemCommand("Set API key", "Store an API key in the config file (F2)", chat.action_set_api_key)
        yield SystemCommand("Toggle dark/light theme", "Switch between dark and light (Ctrl+T)", self.action_toggle_theme)
