"""The main screen: sidebar, message pane, prompt, status line.

It keeps views, not state: the conversations, the open one's messages and the replies
being generated are in a ChatSession (codhechat.ui.session), which this screen asks
for what the user wants and renders (it is the session's SessionView). Replies run as
workers of this screen, each tied to its conversation rather than to what is shown, so
switching conversations never loses a reply. Multi-step commands are in ui/flows/.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Header
from textual.worker import Worker

from codhechat import startup_gc
from codhechat.backends import SIGN_IN, ChatBackend, supports
from codhechat.errors import CodheError
from codhechat.models import AttachedFile, ConnectionState, MessageStatus
from codhechat.ui import command_table, layout
from codhechat.ui.dirty_compositor import DirtyRowsCompositor
from codhechat.ui.flows import manage, replies
from codhechat.ui.flows.branches import BranchCommands
from codhechat.ui.flows.resume import Resume, resume
from codhechat.ui.screens.chat_commands import ChatCommands
from codhechat.ui.session import ChatSession
from codhechat.ui.transcript import Entry, LiveReply, Page
from codhechat.ui.widgets.attachment_bar import AttachmentBar
from codhechat.ui.widgets.footer import ChatFooter
from codhechat.ui.widgets.long_message import view_of
from codhechat.ui.widgets.pane import MessagePane
from codhechat.ui.widgets.prompt import PromptInput
from codhechat.ui.widgets.sidebar import MORE, NEW, ConversationTree
from codhechat.ui.widgets.status import StatusBar
from codhechat.ui.widgets.welcome import Welcome

WARM_UP_DELAY_S = 0.5


class ChatScreen(BranchCommands, command_table.Gated, ChatCommands):
    BINDINGS = command_table.bindings("chat")
    HORIZONTAL_BREAKPOINTS, VERTICAL_BREAKPOINTS = layout.BREAKPOINTS, layout.VERTICAL_BREAKPOINTS  # ui/layout.py

    def __init__(self, backend: ChatBackend, *, needs_api_key: bool = False, resume: Resume | None = None) -> None:
        super().__init__()
        self._compositor = DirtyRowsCompositor()  # a streaming frame renders only the rows it changes
        self.backend, self.needs_api_key, self.resume = backend, needs_api_key, resume
        self.session = ChatSession(backend, self)
        self.deletes = manage.DeleteWithUndo(self, self.session)
        self._unwatch: Callable[[], None] | None = None
        # Kept, not queried: a streaming reply reaches its view through the pane on every delta.
        self.sidebar = ConversationTree(id="sidebar")
        self.pane = MessagePane(id="messages")
        self.prompt = PromptInput(id="prompt")
        self.status = StatusBar(id="status")
        self._files_sent: list[AttachedFile] = []  # given back if the message cannot be sent

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="body"):
            yield self.sidebar
            with Vertical(id="chat"):
                yield self.pane
                yield AttachmentBar(id="attachments")
                yield self.prompt
        yield self.status
        yield ChatFooter()

    def update_status(self) -> None:
        session = self.session
        self.status.model = session.model_for(session.conversation_id)
        current = session.live_for(session.conversation_id)
        self.status.show_replies(current is not None, len(session.live) - (current is not None))
        self.status.warning = "no API key: F2 to set one" if self.needs_api_key else ""
        self._steady_cursor(current is not None)

    def _steady_cursor(self, streaming: bool) -> None:
        """The prompt's cursor stays lit, not blinking, while the reply shown streams.

        Why: each blink is a screen update of its own (a timer, a paint, a write), ~2 ms of
        CPU twice a second: 0.004 of a core, most of what the app spends idle (0.004-0.006
        against 0.001-0.002 without blinking, in a pty). While a reply streams the screen
        is busy with it anyway, and a steady cursor still shows where typing goes."""
        self.prompt.cursor_blink = not streaming

    # Lifecycle

    async def on_mount(self) -> None:
        self.status.mode = self.backend.mode
        layout.restore(self)
        self.update_status()
        self._unwatch = self.backend.watch_connection(self._connection_changed)
        await self.pane.show([Welcome(needs_api_key=self.needs_api_key)], has_older=False)
        self.prompt.focus()
        if self.resume is None:
            self.load_conversations()
        else:  # --continue or --conversation ID
            self.run_worker(self._resume(self.resume), group="sidebar", exclusive=True)
        # After the first frame, not before, and when the user pauses (ui/idle.py): start-up
        # and the first actions stay fast, and the first reply too.
        # A server's warm-up is a few small requests (what it can do, its model), not imports:
        # it runs soon, so its commands are offered from the start.
        when_idle = getattr(self.app, "when_idle", None)
        if when_idle is not None and getattr(self.backend, "warm_up_is_heavy", True):
            when_idle.add(self._warm_up)
        else:  # a server's, or a bare App hosting this screen (tests)
            self.set_timer(WARM_UP_DELAY_S, self._warm_up)

    def _connection_changed(self, state: ConnectionState) -> None:
        if self.is_attached:
            self.status.show_link(state)
            self.status.model = self.session.model_for(self.conversation_id)
        if state.notice:
            self.notify(state.notice, title="Server", severity="warning", timeout=8)

    def on_unmount(self) -> None:
        if self._unwatch is not None:
            self._unwatch()

    @work(exit_on_error=False)
    async def _warm_up(self) -> None:
        await self.backend.warm_up()
        from codhechat.ui.flows import settings  # its dialogs are for later

        await settings.settle_model(self, self.session)
        startup_gc.freeze_warmed_up()

    @work(group="sidebar", exclusive=True)
    async def load_conversations(self, offset: int = 0) -> None:
        try:
            await self.session.load_conversations(offset)
        except CodheError as exc:
            self.notify(str(exc), title="Cannot list conversations", severity="error")
        finally:
            if not offset:
                self._first_page_shown()

    async def _resume(self, which: Resume) -> None:
        try:
            await resume(self, self.session, which)
        finally:
            self._first_page_shown()

    def _first_page_shown(self) -> None:
        """Once the sidebar's first page is drawn, what start-up left for later may run
        (CodheChatApp.first_page_shown: the rest of the settings), and the garbage
        collector paused for start-up resumes."""
        self.call_after_refresh(startup_gc.resume)
        if (hook := getattr(self.app, "first_page_shown", None)) is not None:
            self.call_after_refresh(hook)

    # What the session tells (SessionView)

    def run_reply(self, work: Coroutine[Any, Any, None]) -> Worker[None]:
        return self.run_worker(work, group="reply", exit_on_error=False)

    async def show_window(self) -> None:
        window = self.session.window
        views = [view_of(entry) for entry in window.entries]
        if not views and self.conversation_id is None:
            views = [Welcome(needs_api_key=self.needs_api_key)]
        await self.pane.show(views, has_older=window.has_older, has_newer=window.has_newer)
        self.sub_title = self.session.title
        self.conversations_changed()
        self.refresh_tokens()
        if window.found is not None:
            self.pane.show_found(window.found, mark=window.mark)
            window.found = None

    async def entries_added(self, entries: list[Entry]) -> None:
        await self.pane.add_entries(entries)

    async def entry_removed(self, entry: Entry) -> None:
        await self.pane.remove_entry(entry)

    def conversations_changed(self) -> None:
        session = self.session
        self.sidebar.show(session.conversations, has_more=session.has_more, current=session.conversation_id)
        if self.sub_title or session.conversation_id is not None:  # none until one is opened or started
            self.sub_title = session.title
        self.update_status()

    def live_changed(self) -> None:
        if self.is_attached:
            self.update_status()

    def read_wait(self, reply: LiveReply) -> float:
        view = self.pane.reply_view(reply)
        return view.read_wait() if view else 0.0

    def reply_grew(self, reply: LiveReply, text: str) -> None:
        if view := self.pane.reply_view(reply):
            view.append(text)

    def reply_thought(self, reply: LiveReply, text: str) -> None:
        if view := self.pane.reply_view(reply):
            view.think(text)

    def reply_prompted(self, reply: LiveReply) -> None:
        if view := self.pane.reply_view(reply):
            view.show_prompt(reply.left_out, reply.window)

    def reply_ended(self, reply: LiveReply) -> None:
        assert reply.status is not None
        if view := self.pane.reply_view(reply):
            view.show_end(reply)
        elif reply.status == MessageStatus.ERROR:
            self.notify(reply.error, title="A reply failed", severity="error")
        if reply.status == MessageStatus.COMPLETE and reply.conversation_id == self.conversation_id:
            self.refresh_tokens()

    def reply_not_sent(self, reply: LiveReply, error: CodheError, prompt: str | None) -> None:
        if view := self.pane.reply_view(reply):
            view.finish(MessageStatus.ERROR, reply.notice)
        if prompt and not self.prompt.text:
            self.prompt.text = prompt  # nothing the user typed (or attached) is lost
            for file in self._files_sent:
                self.query_one(AttachmentBar).add_file(file)
        self.notify(str(error), title="Not sent", severity="error")

    # Choosing conversations, paging

    @on(ConversationTree.Chosen)
    async def _chosen(self, event: ConversationTree.Chosen) -> None:
        if event.choice == NEW:
            await self.action_new_conversation()
        elif event.choice == MORE:
            self.load_conversations(len(self.session.conversations))
        elif isinstance(event.choice, int):
            await self.open_conversation(event.choice)
            self.prompt.focus()  # picked a conversation: the next thing is to type

    async def open_conversation(self, conversation_id: int, *, at: int | None = None) -> None:
        """Show the newest page of a conversation or, given `at`, the page around that message."""
        try:
            await self.session.open(conversation_id, at=at)
        except CodheError as exc:
            self.notify(str(exc), title="Cannot open the conversation", severity="error")

    async def _page(self, load: Callable[[], Awaitable[Page | None]]) -> Page | None:
        try:
            return await load()
        except CodheError as exc:
            self.notify(str(exc), title="Cannot load more messages", severity="error")
            return None

    @on(MessagePane.NeedOlder)
    async def _load_older(self) -> None:
        if page := await self._page(self.session.older_page):
            await self.pane.prepend(*page, has_older=self.session.window.has_older)

    @on(MessagePane.NeedNewer)
    async def _load_newer(self) -> None:
        if page := await self._page(self.session.newer_page):
            await self.pane.append_newer(*page, has_newer=self.session.window.has_newer)

    async def action_new_conversation(self) -> None:
        await self.session.new_conversation()
        self.prompt.focus()

    # Sending, stopping, retrying, regenerating

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        if self.session.live_for(self.conversation_id) is not None:
            self.notify("A reply is still being generated here: Esc stops it.", severity="warning")
            return
        text, self._files_sent = event.text.strip(), self.query_one(AttachmentBar).take()
        self.prompt.clear()
        self.prompt.remember(text)
        await self.session.send(text, self._files_sent)

    def action_stop(self) -> None:
        self.session.stop()

    async def stop_all(self) -> None:
        """Cancel every reply and wait until each has stored what arrived."""
        await self.session.stop_all()

    async def action_retry(self) -> None:
        if (why := await self.session.retry()) is not None:
            self.notify(why)

    async def action_continue_reply(self) -> None:
        if (why := await self.session.continue_reply()) is not None:
            self.notify(why)

    async def action_regenerate(self) -> None:
        await replies.regenerate(self, self.session)

    # Layout and keys

    def action_toggle_sidebar(self) -> None:
        layout.toggle_sidebar(self, self.sidebar, self.prompt)

    def action_page_messages(self, direction: int) -> None:
        (self.pane.scroll_page_up if direction < 0 else self.pane.scroll_page_down)()

    def action_focus_prompt(self) -> None:
        self.prompt.focus()

    def action_set_api_key(self) -> None:
        from codhechat.ui.flows import settings

        settings.set_api_key(self)

    def why_not(self, action: str) -> str | None:
        """Why a command cannot run now (its key and palette entry are then hidden)."""
        # Priority keys that, when their command cannot run, fall through to the prompt (Ctrl+Z, F7).
        if action == "undo_delete" and self.deletes.pending is None:
            return "There is no delete to undo."
        if action == "sign_in" and not supports(self.backend, SIGN_IN):
            return "Only a server has accounts to sign in to."
        if (why := self.session.why_not(action)) is not None:  # continue_reply, the branch commands
            return why
        return command_table.unavailable(action, self.backend)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return command_table.allowed(self, action, parameters)

    # How full the context is (where the endpoint reports usage)

    @work(group="tokens", exclusive=True, exit_on_error=False)
    async def refresh_tokens(self) -> None:
        conversation_id = self.conversation_id
        use = None if conversation_id is None else await self.session.context_use(conversation_id)
        if self.conversation_id == conversation_id and self.is_attached:
            self.status.tokens = "" if use is None else use.describe()
