"""Tool calls in the pane: the call (tool, server, its arguments pretty-printed), the
question while it waits (allow once, always for this tool, deny: keys y, a, n), and its
result folded under it. A stored `tool` message is shown the same way, without the
question. Everything in it came from a model or a server: shown as plain text only."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Collapsible, Static

from codhechat.models import Message, ToolDecision
from codhechat.textsafe import visible
from codhechat.tools.calls import pretty_arguments
from codhechat.ui.text import plain
from codhechat.ui.transcript import Entry, LiveNotice, LiveTool

RESULT_SHOWN = 20_000  # characters of a result shown, at most (it is stored whole)


class ToolCallView(Vertical, can_focus=True):
    BINDINGS = [
        Binding("y", "decide('once')", "Allow once"),
        Binding("a", "decide('always')", "Always allow"),
        Binding("n", "decide('deny')", "Deny"),
    ]

    def __init__(self, entry: LiveTool | None = None, *, message: Message | None = None) -> None:
        super().__init__(classes="message tool")
        self.live = entry
        self.message = message

    @property
    def entry(self) -> Entry:
        if self.live is not None:
            return self.live
        assert self.message is not None, "a ToolCallView is made with an entry or a message"
        return self.message

    @property
    def asking(self) -> bool:
        return self.live is not None and self.live.approval is not None

    def _title(self) -> Text:
        if self.live is not None:
            name, server = self.live.call.name, self.live.server
        else:
            name, server = (self.message.tool_name if self.message else None) or "tool", ""
        title = Text.assemble(("⚙ Tool ", "bold"), (visible(name), "bold"))
        if server:
            title.append(f"  on {visible(server)}", style="dim")
        return title

    def compose(self):
        yield Static(self._title(), classes="header")
        if self.live is not None and self.live.call.arguments.strip() not in ("", "{}"):
            yield Static(plain(pretty_arguments(self.live.call.arguments), "dim"), classes="tool-arguments")
        with Horizontal(classes="tool-ask") as ask:
            ask.display = self.asking
            yield Button("Allow once (y)", id="once", variant="primary")
            yield Button("Always for this tool (a)", id="always")
            yield Button("Deny (n)", id="deny", variant="error")
        yield Collapsible(Static(classes="tool-result-text"), title="Result", collapsed=True, classes="tool-result")
        yield Static(classes="notice")

    def on_mount(self) -> None:
        if self.live is not None:
            self.live.on_change = self.show_state
        self.show_state()
        if self.asking:
            self.call_after_refresh(self._ask)

    def on_focus(self) -> None:
        self.show_state()

    def on_blur(self) -> None:
        self.show_state()

    def on_unmount(self) -> None:
        if self.live is not None and self.live.on_change == self.show_state:
            self.live.on_change = None

    def _ask(self) -> None:
        """Take the focus, unless the user is typing (a `y` meant for the prompt must not allow a tool)."""
        focused = self.app.focused
        if focused is None or not getattr(focused, "text", ""):
            self.focus()
        self.scroll_visible(animate=False)

    def show_state(self) -> None:
        """Show where the call stands: asked, running, stopped, or its result."""
        if not self.is_mounted:
            return
        live, message = self.live, self.message
        result = live.result if live is not None else (message.content if message else None)
        failed = live.failed if live is not None else bool(message and message.error)
        self.query_one(".tool-ask").display = self.asking
        section = self.query_one(".tool-result", Collapsible)
        section.display = result is not None
        if result is not None:
            section.title = "Result (failed)" if failed else "Result"
            shown = result if len(result) <= RESULT_SHOWN else result[:RESULT_SHOWN] + "\n[…]"
            section.query_one(".tool-result-text", Static).update(plain(shown, "red" if failed else ""))
        notice = self.query_one(".notice", Static)
        if live is None or result is not None:
            notice.display = False
        elif live.stopped:
            notice.update(Text("■ Stopped before it ran.", style="italic"))
        elif self.asking:
            notice.update(Text("? Run this tool?  y: once · a: always for this tool · n: deny · Esc stops"
                               + ("" if self.has_focus else "  (Tab or click here first)"), style="bold"))  # fmt: skip
        else:
            notice.update(Text("● running…  (Esc stops)", style="italic"))

    def action_decide(self, decision: ToolDecision) -> None:
        if self.live is None or self.live.approval is None:
            return
        approval, self.live.approval = self.live.approval, None
        approval.decide(decision)
        self.show_state()
        focus_prompt = getattr(self.screen, "action_focus_prompt", None)
        if callable(focus_prompt):
            focus_prompt()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        match event.button.id:
            case "once" | "always" | "deny" as decision:
                self.action_decide(decision)


class NoticeView(Static):
    """A line said once in passing (an MCP server that would not start, or stopped)."""

    def __init__(self, notice: LiveNotice) -> None:
        super().__init__(Text(f"! {visible(notice.text)}", style="italic"), classes="message notice-line")
        self.entry = notice
