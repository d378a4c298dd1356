"""The Textual application: theme, global keys and the command palette (command_table.py),
plain notifications, shutdown, and what a user sees of a crash."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from textual import events
from textual.app import App
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.screen import Screen

from codhechat.backends import ChatBackend
from codhechat.errors import ConfigError
from codhechat.state import UiState
from codhechat.textsafe import visible
from codhechat.ui import command_table, crash, themes
from codhechat.ui import graphics as ui_graphics
from codhechat.ui.flows.resume import Resume
from codhechat.ui.idle import WhenIdle
from codhechat.ui.screens.chat import ChatScreen
from codhechat.ui.stream_pace import StreamPace
from codhechat.ui.widgets.piece_view import warm_up_rendering

HANGUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
IDLE_S = 1.0  # a pause of the user's this long lets the next background warm-up run (ui/idle.py)
# The settings the first frame did without (first_settings.py): their warnings and the pace of streaming.
SettingsLater = Callable[[], Awaitable[tuple[list[str], StreamPace]]]


def stylesheet_path() -> Path:
    """codhechat.tcss: inside the installed package, else at the checkout's root."""
    packaged = Path(__file__).resolve().parent.parent / "codhechat.tcss"
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[3] / "codhechat.tcss"


class CodheChatApp(App[None]):
    TITLE = "codhechat"
    CSS_PATH = stylesheet_path()
    BINDINGS = command_table.bindings("app")
    COMMANDS = App.COMMANDS | {command_table.CommandTable, themes.ThemeCommands}

    def __init__(
        self,
        backend: ChatBackend,
        *,
        ui_state: UiState | None = None,
        theme: str | None = None,
        default_theme: str | None = None,
        needs_api_key: bool = False,
        warnings: list[str] | None = None,
        resume: Resume | None = None,
        stream_pace: StreamPace | None = None,
        graphics: ui_graphics.Protocol | None = None,
        settings_later: SettingsLater | None = None,
    ) -> None:
        """`settings_later`: the rest of the settings, loaded once the first page is drawn
        (first_page_shown); an invalid one then ends the app (`config_error`), and
        `codhechat` says why, as it does for one found before the app."""
        super().__init__()
        self._settings_later = settings_later
        self.config_error: ConfigError | None = None
        self.backend = backend
        self.graphics = graphics  # how attached images are drawn as thumbnails (None: labelled chips)
        ui_graphics.current = graphics
        self.stream_pace = stream_pace or StreamPace()  # how streaming replies are painted
        self.warnings = list(warnings or [])  # about the configuration: shown once, at start
        self.ui_state = ui_state or UiState()
        self.needs_api_key = needs_api_key
        self.resume = resume  # --continue or --conversation ID: the conversation to open at start
        self._hangup_early = False
        self._crash: BaseException | None = None
        # A --theme flag wins for this run; otherwise the last choice; otherwise the config.
        chosen = theme or self.ui_state.get("theme") or default_theme or "dark"
        self._start_theme = themes.theme_name(chosen)
        self.when_idle = WhenIdle(self, IDLE_S)  # background warm-ups wait for the user to pause

    def get_default_screen(self) -> Screen:
        return ChatScreen(self.backend, needs_api_key=self.needs_api_key, resume=self.resume)

    def on_mount(self) -> None:
        wanted = self._start_theme
        self.theme = wanted if wanted in self.available_themes else themes.DEFAULT
        if wanted != self.theme:
            self.warnings.append(f'There is no theme {wanted!r}: Ctrl+P, then type "theme", lists them.')
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
        # After the first frame and the chat screen's warm-up: the first reply then renders at once.
        self.when_idle.add(lambda: self.run_worker(partial(warm_up_rendering, themes.code_style(self)), thread=True,
                                                   exit_on_error=False))  # fmt: skip

    def first_page_shown(self) -> None:
        """The chat screen's first page is drawn (ChatScreen calls this once)."""
        if (later := self._settings_later) is not None:
            self._settings_later = None
            self.run_worker(self._load_settings(later), exit_on_error=False)

    async def _load_settings(self, later: SettingsLater) -> None:
        try:
            warnings, self.stream_pace = await later()
        except ConfigError as exc:
            self.config_error = exc
            self.exit(return_code=2)
            return
        for warning in warnings:
            self.notify(warning, title="Configuration", severity="warning", timeout=15)
        self.refresh_bindings()  # abilities the settings add (MCP tools)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown | events.Paste):
            self.when_idle.touch()
        await super().on_event(event)

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
        """The app's keys, grouped, then the prompt's (screens/help.py, imported when first shown)."""
        from codhechat.ui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen(self.backend))

    def action_choose_tools(self) -> None:
        from codhechat.ui.flows.tools import choose_tools

        screen = self.screen_stack[0]
        if isinstance(screen, ChatScreen):
            self.run_worker(choose_tools(screen, screen.session), group="dialog", exclusive=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return command_table.unavailable(action, self.backend) is None

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
