"""The main screen: sidebar, message pane, prompt, status line.

It turns user intents into backend calls and backend events into views.
Replies run as async workers, one per reply, each tied to its conversation
rather than to the screen, so switching conversations never loses a reply.
"""

from __future__ import annotations

import asyncio
import gc
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Static
from textual.timer import Timer
from textual.worker import Worker

from codhechat.backends import CONVERSATION_OPTIONS, TOKENS, ChatBackend, supports
from codhechat.errors import CodheError
from codhechat.models import (
    ConnectionState,
    Conversation,
    Message,
    MessageStatus,
    ReplyDelta,
    ReplyDone,
    ReplyEvent,
    ReplyFailed,
    ReplyStarted,
    SearchHit,
)
from codhechat.state import PromptHistory
from codhechat.ui import command_table
from codhechat.ui.screens import conversation_settings
from codhechat.ui.screens.dialogs import AskText, Confirm, PickOne
from codhechat.ui.screens.search import SearchScreen
from codhechat.ui.widgets.messages import (
    PAGE,
    MessagePane,
    MessageView,
    PendingUserView,
    ReplyView,
    usage_of,
)
from codhechat.ui.widgets.prompt import PromptInput
from codhechat.ui.widgets.sidebar import MORE, NEW, ConversationTree
from codhechat.ui.text import plain
from codhechat.ui.widgets.status import StatusBar

CONVERSATION_PAGE = 200
WARM_UP_DELAY_S = 0.5


@dataclass(eq=False)
class LiveReply:
    """A reply being generated, and the view showing it if its conversation is open."""

    conversation_id: int | None
    model: str
    view: ReplyView | None = None
    parts: list[str] = field(default_factory=list)
    worker: Worker[None] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


class ChatScreen(Screen[None]):
    BINDINGS = command_table.bindings("chat")

    def __init__(self, backend: ChatBackend, *, needs_api_key: bool = False) -> None:
        super().__init__()
        self.backend = backend
        self.needs_api_key = needs_api_key
        self.conversation_id: int | None = None
        self.live: list[LiveReply] = []
        self._connection: ConnectionState | None = None
        self._unwatch: Callable[[], None] | None = None
        self._pending_delete: tuple[Conversation, Timer] | None = None
        self._history_store = PromptHistory()

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="body"):
            yield ConversationTree(id="sidebar")
            with Vertical(id="chat"):
                yield MessagePane(id="messages")
                yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    # Helpers

    @property
    def pane(self) -> MessagePane:
        return self.query_one(MessagePane)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def sidebar(self) -> ConversationTree:
        return self.query_one(ConversationTree)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def live_for(self, conversation_id: int | None) -> LiveReply | None:
        return next((r for r in self.live if r.conversation_id == conversation_id), None)

    def model_for(self, conversation_id: int | None) -> str:
        """The model a conversation's replies use: its own where the backend keeps one."""
        conversation = self.sidebar.get(conversation_id) if conversation_id is not None else None
        if conversation is not None and conversation.model and supports(self.backend, CONVERSATION_OPTIONS):
            return conversation.model
        return self.backend.model

    def update_status(self) -> None:
        self.status.model = self.model_for(self.conversation_id)
        current = self.live_for(self.conversation_id)
        others = len(self.live) - (current is not None)
        state = "generating…  Esc stops" if current else "ready"
        if others:
            state += f"  ({others} more generating)"
        self.status.state = state
        self.status.warning = "no API key: F2 to set one" if self.needs_api_key else ""

    def _welcome(self) -> Widget:
        text = Text.assemble(
            ("Start a conversation\n\n", "bold"),
            "Type below and press Enter to send; Ctrl+J adds a new line.\n",
            "Ctrl+N starts a new chat, Ctrl+P opens every command.",
        )
        if self.needs_api_key:
            text.append(
                "\n\nNo API key is set. Set OPENAI_API_KEY, press F2 to store one, "
                "or set OPENAI_BASE_URL to a local server such as Ollama.",
                style="bold",
            )
        return Static(text, id="welcome")

    # Lifecycle

    async def on_mount(self) -> None:
        self.status.mode = self.backend.mode
        self.status.model = self.backend.model
        self.update_status()
        self._unwatch = self.backend.watch_connection(self._connection_changed)
        await self.pane.show([self._welcome()], has_older=False)
        self.prompt.focus()
        self.prompt.recall = self._history_store.load()
        self.load_conversations()
        # After the first frame, not before: start-up stays fast and the first reply too.
        self.set_timer(WARM_UP_DELAY_S, self._warm_up)

    def _connection_changed(self, state: ConnectionState) -> None:
        if self._connection is None:  # a link to watch (remote mode): tick its reconnect countdown
            self.set_interval(1.0, self._show_connection)
        self._connection = state
        self._show_connection()
        if state.notice:
            self.notify(state.notice, title="Server", severity="warning", timeout=8)

    def _show_connection(self) -> None:
        if self._connection is not None and self.is_attached:
            self.status.connection = self._connection.describe(time.monotonic())
            self.status.model = self.model_for(self.conversation_id)

    def on_unmount(self) -> None:
        if self._unwatch is not None:
            self._unwatch()

    @work(exit_on_error=False)
    async def _warm_up(self) -> None:
        await self.backend.warm_up()
        # Everything loaded so far lives as long as the app: keep it out of the
        # garbage collector's full passes, which otherwise stall typing for ~60 ms.
        gc.collect()
        gc.freeze()

    @work(group="sidebar", exclusive=True)
    async def load_conversations(self, offset: int = 0) -> None:
        try:
            page = await self.backend.list_conversations(limit=CONVERSATION_PAGE + 1, offset=offset)
        except CodheError as exc:
            self.notify(str(exc), title="Cannot list conversations", severity="error")
            return
        has_more = len(page) > CONVERSATION_PAGE
        if offset:
            self.sidebar.add_page(page[:CONVERSATION_PAGE], has_more=has_more)
        else:
            self.sidebar.set_conversations(page[:CONVERSATION_PAGE], has_more=has_more)

    # Choosing conversations

    @on(ConversationTree.Chosen)
    async def _chosen(self, event: ConversationTree.Chosen) -> None:
        if event.choice == NEW:
            await self.action_new_conversation()
        elif event.choice == MORE:
            self.load_conversations(len(self.sidebar.conversations))
        elif isinstance(event.choice, int):
            await self.open_conversation(event.choice)
            self.prompt.focus()  # picked a conversation: the next thing is to type

    def _detach_views(self) -> None:
        for reply in self.live:
            reply.view = None

    async def open_conversation(self, conversation_id: int, *, at: int | None = None) -> None:
        """Show the newest page of a conversation or, given `at`, the page around that
        message, scrolled to it."""
        has_newer = False
        try:
            messages = await self.backend.get_messages(conversation_id, limit=PAGE + 1)
            has_older = len(messages) > PAGE
            messages = messages[-PAGE:]
            if at is not None and all(m.id != at for m in messages):
                half = PAGE // 2
                older = await self.backend.get_messages(conversation_id, before=at + 1, limit=half + 1)
                newer = await self.backend.get_messages(conversation_id, after=at, limit=half + 1)
                has_older, has_newer = len(older) > half, len(newer) > half
                messages = older[-half:] + newer[:half]
        except CodheError as exc:
            self.notify(str(exc), title="Cannot open the conversation", severity="error")
            return
        self._detach_views()
        self.conversation_id = conversation_id
        widgets: list[Widget] = []
        live = None if has_newer else self.live_for(conversation_id)
        if live is not None and messages and messages[-1].role == "assistant":
            messages = messages[:-1]  # shown live instead of as last saved
        widgets = [MessageView(m) for m in messages]
        if live is not None:
            live.view = ReplyView(live.model, live.text)
            widgets.append(live.view)
        await self.pane.show(widgets, has_older=has_older)
        self.pane.has_newer = has_newer
        self.sidebar.mark_current(conversation_id)
        self._set_title()
        self.update_status()
        self.refresh_tokens()
        found = next((w for w in widgets if isinstance(w, MessageView) and w.message.id == at), None)
        if found is not None:
            found.add_class("found")
            self.pane.anchor(False)
            self.call_after_refresh(
                self.pane.scroll_to_widget, found, top=True, animate=False, immediate=True
            )

    def _set_title(self) -> None:
        conversation = next(
            (c for c in self.sidebar.conversations if c.id == self.conversation_id), None
        )
        self.sub_title = conversation.title if conversation else "New conversation"

    @on(MessagePane.NeedOlder)
    async def _load_older(self) -> None:
        oldest = self.pane.oldest_id()
        if self.conversation_id is None or oldest is None:
            return
        older = await self.backend.get_messages(self.conversation_id, before=oldest, limit=PAGE + 1)
        await self.pane.prepend(older[-PAGE:], has_older=len(older) > PAGE)

    @on(MessagePane.NeedNewer)
    async def _load_newer(self) -> None:
        newest = self.pane.newest_id()
        if self.conversation_id is None or newest is None:
            return
        newer = await self.backend.get_messages(self.conversation_id, after=newest, limit=PAGE + 1)
        has_newer = len(newer) > PAGE
        if not has_newer:
            # Reached the end: reload the newest page so a live reply is re-attached.
            await self.open_conversation(self.conversation_id)
            return
        await self.pane.append_newer(newer[:PAGE], has_newer=has_newer)

    async def action_new_conversation(self) -> None:
        self._detach_views()
        self.conversation_id = None
        await self.pane.show([self._welcome()], has_older=False)
        self.sidebar.mark_current(None)
        self._set_title()
        self.update_status()
        self.refresh_tokens()
        self.prompt.focus()

    # Sending

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        if self.live_for(self.conversation_id) is not None:
            self.notify("A reply is still being generated here: Esc stops it.", severity="warning")
            return
        text = event.text.strip()
        self.prompt.clear()
        self._remember_prompt(text)
        pending = PendingUserView(text)
        reply = self.new_reply(self.conversation_id)
        assert reply.view is not None
        if self.pane.query("#welcome"):
            await self.pane.show([], has_older=False)
        await self.pane.add(pending, reply.view)
        self.pane.anchor()
        self.start_reply(reply, self.backend.stream_reply(self.conversation_id, text), prompt=text)

    def new_reply(self, conversation_id: int | None) -> LiveReply:
        reply = LiveReply(conversation_id, self.model_for(conversation_id))
        reply.view = ReplyView(reply.model)
        return reply

    async def _add_reply(self, conversation_id: int, events) -> None:  # type: ignore[no-untyped-def]
        """A new reply under what the pane shows, for a prompt that is already stored."""
        reply = self.new_reply(conversation_id)
        assert reply.view is not None
        await self.pane.add(reply.view)
        self.pane.anchor()
        self.start_reply(reply, events)

    def start_reply(self, reply: LiveReply, events, *, prompt: str | None = None) -> None:  # type: ignore[no-untyped-def]
        """Run one reply; `prompt` is given back to the input if it was never stored."""
        self.live.append(reply)
        reply.worker = self.run_worker(
            self._run_reply(reply, events, prompt), group="reply", exit_on_error=False
        )
        self.update_status()

    async def _run_reply(self, reply: LiveReply, events, prompt: str | None) -> None:  # type: ignore[no-untyped-def]
        started = False
        try:
            async with aclosing(events) as stream:
                async for event in stream:
                    started = started or isinstance(event, ReplyStarted)
                    self._on_reply_event(reply, event)
        except CodheError as exc:
            # Nothing was stored (the database failed before the prompt was saved):
            # give the prompt back so nothing the user typed is lost.
            if reply.view is not None:
                reply.view.finish(MessageStatus.ERROR, f"{exc.message} {exc.hint}".strip())
            if not started and prompt and not self.prompt.text:
                self.prompt.text = prompt
            self.notify(str(exc), title="Not sent", severity="error")
        except BaseException:
            if reply.view is not None:
                reply.view.finish(MessageStatus.PARTIAL)
            raise
        finally:
            self.live.remove(reply)
            if self.is_attached:
                self.update_status()

    def _on_reply_event(self, reply: LiveReply, event: ReplyEvent) -> None:
        match event:
            case ReplyStarted(conversation=conversation):
                reply.conversation_id = conversation.id
                if self.conversation_id is None and reply.view is not None:
                    self.conversation_id = conversation.id
                    self.sidebar.current = conversation.id
                self._touch(conversation)
            case ReplyDelta(text=text):
                reply.parts.append(text)
                if reply.view is not None:
                    reply.view.append(text)
            case ReplyDone(message=message):
                if reply.view is not None:
                    reply.view.finish(MessageStatus.COMPLETE)
                    reply.view.show_usage(usage_of(message))
                self._touch_id(message.conversation_id)
                if message.conversation_id == self.conversation_id:
                    self.refresh_tokens()
            case ReplyFailed(error=error, message=message):
                detail = error.message if isinstance(error, CodheError) else str(error)
                hint = error.hint if isinstance(error, CodheError) else ""
                if reply.view is not None:
                    reply.view.finish(MessageStatus.ERROR, f"{detail} {hint}".strip())
                else:
                    self.notify(detail, title="A reply failed", severity="error")
                if message is not None:
                    self._touch_id(message.conversation_id)

    def _touch(self, conversation: Conversation) -> None:
        self.sidebar.upsert(conversation)
        self._set_title()

    def _touch_id(self, conversation_id: int) -> None:
        known = next((c for c in self.sidebar.conversations if c.id == conversation_id), None)
        if known is not None:
            self._touch(replace(known, updated_at=datetime.now(UTC)))

    # Stop and retry

    def action_stop(self) -> None:
        reply = self.live_for(self.conversation_id)
        if reply is not None and reply.worker is not None:
            reply.worker.cancel()

    async def stop_all(self) -> None:
        """Cancel every reply and wait until each has stored what arrived."""
        workers = [r.worker for r in self.live if r.worker is not None]
        for worker in workers:
            worker.cancel()
        for worker in workers:
            try:
                await worker.wait()
            except Exception:
                pass

    async def action_retry(self) -> None:
        if self.live_for(self.conversation_id) is not None:
            return
        if self.conversation_id is None:
            await self._resend_unstored()
            return
        views = self.pane.views()
        last = views[-1] if views else None
        last_message: Message | None = last.message if isinstance(last, MessageView) else None
        retryable = (isinstance(last, ReplyView) and last.status not in (None, MessageStatus.COMPLETE)) or (
            last_message is not None
            and (last_message.role == "user" or last_message.status != MessageStatus.COMPLETE)
        )
        if not retryable:
            self.notify("The last reply is complete: nothing to retry.")
            return
        if last is not None and not (last_message is not None and last_message.role == "user"):
            await last.remove()
        await self._add_reply(self.conversation_id, self.backend.retry_reply(self.conversation_id))

    async def _resend_unstored(self) -> None:
        """The first message of a new conversation failed before the server named the
        conversation (a classic server's socket dropped first): send the kept prompt
        again, as the first message of a new conversation."""
        views = self.pane.views()
        failed = views[-1] if views else None
        pending = views[-2] if len(views) >= 2 else None
        if not (isinstance(failed, ReplyView) and failed.status not in (None, MessageStatus.COMPLETE)
                and isinstance(pending, PendingUserView)):  # fmt: skip
            self.notify("There is nothing here to retry.")
            return
        await failed.remove()
        reply = self.new_reply(None)
        assert reply.view is not None
        await self.pane.add(reply.view)
        self.pane.anchor()
        self.start_reply(reply, self.backend.stream_reply(None, pending.text), prompt=pending.text)

    # Layout and keys

    def action_toggle_sidebar(self) -> None:
        self.sidebar.display = not self.sidebar.display
        if not self.sidebar.display:
            self.prompt.focus()

    def action_page_messages(self, direction: int) -> None:
        if direction < 0:
            self.pane.scroll_page_up()
        else:
            self.pane.scroll_page_down()

    def action_focus_prompt(self) -> None:
        self.prompt.focus()

    def action_set_api_key(self) -> None:
        from codhechat.ui.screens.api_key import ApiKeyScreen

        def stored(key: str | None) -> None:
            if key:
                self.backend.set_api_key(key)
                self.needs_api_key = False
                self.update_status()
                if self.pane.query("#welcome"):
                    self.run_worker(self.pane.show([self._welcome()], has_older=False))

        self.app.push_screen(ApiKeyScreen(), stored)

    # Commands a backend may or may not support (see command_table.py)

    def why_not(self, action: str) -> str | None:
        """Why a command cannot run now (its key and palette entry are then hidden)."""
        if action == "undo_delete" and self._pending_delete is None:
            return "There is no delete to undo."  # and Ctrl+Z falls through to the prompt
        return command_table.unavailable(action, self.backend)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.why_not(action) is None

    def _target(self) -> Conversation | None:
        """The conversation a command is about: the one under the sidebar's cursor
        when the sidebar has the focus, else the open one."""
        node = self.sidebar.cursor_node
        if self.sidebar.has_focus and node is not None and isinstance(node.data, int):
            return self.sidebar.get(node.data)
        return self.sidebar.get(self.conversation_id)

    def action_rename(self) -> None:
        target = self._target()
        if target is None:
            self.notify("Open or select a conversation to rename it.")
            return

        async def renamed(title: str | None) -> None:
            if not title or title == target.title:
                return
            if await self.apply_change(self.backend.rename_conversation(target.id, title), "Cannot rename"):
                self._set_title()

        self.app.push_screen(AskText("Rename the conversation", target.title), renamed)

    async def action_toggle_pin(self) -> None:
        target = self._target()
        if target is None:
            self.notify("Open or select a conversation to pin it.")
            return
        updated = await self.apply_change(self.backend.set_pinned(target.id, target.pinned_at is None), "Cannot pin")
        if updated is not None:
            self.notify(f"{'Pinned' if updated.pinned_at else 'Unpinned'} “{updated.title}”.")

    async def apply_change(self, change: Awaitable[Conversation | None], failure: str) -> Conversation | None:
        """Await a backend change to a conversation and show its new state, or say why not."""
        try:
            updated = await change
        except CodheError as exc:
            self.notify(str(exc), title=failure, severity="error")
            return None
        if updated is None:
            self.notify("That conversation no longer exists.", severity="warning")
            return None
        self.sidebar.upsert(updated)
        return updated

    def action_delete(self) -> None:
        target = self._target()
        if target is None:
            self.notify("Open or select a conversation to delete it.")
            return
        if self.live_for(target.id) is not None:
            self.notify("A reply is being generated there: stop it (Esc) first.", severity="warning")
            return

        async def confirmed(yes: bool | None) -> None:
            if yes:
                await self._delete_later(target)

        question = f"Delete “{target.title}” and all its messages?\nCtrl+Z undoes it for {UNDO_S:g} seconds."
        self.app.push_screen(Confirm(question, yes="Delete"), confirmed)

    async def _delete_later(self, conversation: Conversation) -> None:
        """Hide the conversation now and delete it when the undo window closes (or
        the app quits): undoing is then just showing it again, with nothing to restore."""
        await self.finish_pending_delete()
        self.sidebar.remove(conversation.id)
        if self.conversation_id == conversation.id:
            await self.action_new_conversation()
        timer = self.set_timer(UNDO_S, self.finish_pending_delete)
        self._pending_delete = (conversation, timer)
        self.notify(f"Deleted “{conversation.title}”. Ctrl+Z to undo.", timeout=UNDO_S)

    async def finish_pending_delete(self) -> None:
        pending, self._pending_delete = self._pending_delete, None
        if pending is None:
            return
        conversation, timer = pending
        timer.stop()
        try:
            await self.backend.delete_conversation(conversation.id)
        except CodheError as exc:
            if self.is_attached:
                self.sidebar.upsert(conversation)
                self.notify(str(exc), title="Not deleted", severity="error")

    async def action_undo_delete(self) -> None:
        pending, self._pending_delete = self._pending_delete, None
        if pending is None:
            return
        conversation, timer = pending
        timer.stop()
        self.sidebar.upsert(conversation)
        self.notify(f"Restored “{conversation.title}”.")

    def action_search(self) -> None:
        async def chosen(hit: SearchHit | None) -> None:
            if hit is not None:
                await self.open_conversation(hit.conversation_id, at=hit.message_id)
                if self.sidebar.get(hit.conversation_id) is None:
                    self.sub_title = hit.title  # beyond the loaded page of the sidebar
                self.prompt.focus()

        pending = self._pending_delete

        def hidden(conversation_id: int) -> bool:
            return pending is not None and pending[0].id == conversation_id

        self.app.push_screen(SearchScreen(lambda query: self.backend.search(query, limit=30), hidden=hidden), chosen)

    # Regenerate

    async def action_regenerate(self) -> None:
        if self.conversation_id is None or self.live_for(self.conversation_id) is not None:
            return
        views = self.pane.views()
        last = views[-1] if views else None
        if isinstance(last, MessageView) and last.message.role == "assistant":
            complete, text = last.message.status == MessageStatus.COMPLETE, last.message.content
        elif isinstance(last, ReplyView) and last.status is not None:
            complete, text = last.status == MessageStatus.COMPLETE, last.text
        else:
            self.notify("There is no finished reply here to regenerate.")
            return
        if not complete:
            await self.action_retry()
            return
        conversation_id = self.conversation_id

        async def confirmed(yes: bool | None) -> None:
            if not yes or self.conversation_id != conversation_id or self.live_for(conversation_id):
                return
            await self._regenerate(conversation_id, last)

        question = (
            f"Regenerate replaces the last reply: the current one ({len(text):,} characters) "
            "is deleted, not kept.\nCopy it first (Ctrl+O) to keep it."
        )
        self.app.push_screen(Confirm(question, yes="Replace it"), confirmed)

    async def _regenerate(self, conversation_id: int, old: Widget) -> None:
        if old.is_attached:
            await old.remove()
        await self._add_reply(conversation_id, self.backend.regenerate_reply(conversation_id))

    # Per-conversation model and system prompt, editing a message (conversation_settings.py)

    def action_choose_model(self) -> None:
        self.run_worker(conversation_settings.choose_model(self), group="dialog", exclusive=True)

    def action_choose_system_prompt(self) -> None:
        self.run_worker(conversation_settings.choose_system_prompt(self), group="dialog", exclusive=True)

    def action_edit_message(self) -> None:
        self.run_worker(conversation_settings.edit_message(self), group="dialog", exclusive=True)

    # Token total (where the endpoint reports usage)

    @work(group="tokens", exclusive=True, exit_on_error=False)
    async def refresh_tokens(self) -> None:
        conversation_id = self.conversation_id
        total = None
        if conversation_id is not None and supports(self.backend, TOKENS):
            try:
                total = await self.backend.conversation_tokens(conversation_id)
            except CodheError:
                total = None
        if self.conversation_id == conversation_id and self.is_attached:
            self.status.tokens = "" if total is None else f"{total:,} tokens"

    # Copy (OSC 52: works over SSH, in terminals that allow it)

    def _texts(self) -> list[tuple[str, str]]:
        """(role, text) of every message shown, oldest first."""
        shown: list[tuple[str, str]] = []
        for view in self.pane.views():
            if isinstance(view, MessageView):
                shown.append((view.message.role, view.message.content))
            elif isinstance(view, ReplyView):
                shown.append(("assistant", view.text))
            elif isinstance(view, PendingUserView):
                shown.append(("user", view.text))
        return shown

    def _copy(self, text: str, what: str) -> None:
        self.app.copy_to_clipboard(text)
        self.notify(
            f"Copied {what} ({len(text):,} characters) by OSC 52. If nothing arrived, "
            "your terminal may not support clipboard access (in tmux: set-clipboard on).",
            title="Copied",
        )

    def action_copy_last_reply(self) -> None:
        replies = [text for role, text in self._texts() if role == "assistant" and text]
        if not replies:
            self.notify("There is no reply here to copy.")
            return
        self._copy(replies[-1], "the last reply")

    def action_copy_code_block(self) -> None:
        for role, text in reversed(self._texts()):
            blocks = [m.group(2).removesuffix("\n") for m in CODE_BLOCK.finditer(text)] if role == "assistant" else []
            if blocks:
                self._copy(blocks[-1], "the last code block")
                return
        self.notify("There is no code block here to copy.")

    def action_copy_message(self) -> None:
        texts = [(role, text) for role, text in self._texts() if text]
        if not texts:
            self.notify("There is no message here to copy.")
            return
        choices: list[Text | str] = [
            Text.assemble(("You: " if role == "user" else "Assistant: ", "bold"), plain(" ".join(text.split())[:70]))
            for role, text in texts
        ]

        def chosen(index: int | None) -> None:
            if index is not None:
                role, text = texts[index]
                self._copy(text, "your message" if role == "user" else "the reply")

        self.app.push_screen(PickOne("Copy which message?", choices), chosen)

    # Prompt history

    def _remember_prompt(self, text: str) -> None:
        history = PromptHistory.added(self.prompt.recall, text)
        if history is not self.prompt.recall:
            self.prompt.recall = history
            self.run_worker(asyncio.to_thread(self._history_store.save, list(history)), exit_on_error=False)


UNDO_S = 8.0
# A fenced code block's body (``` or ~~~, optionally with a language).
CODE_BLOCK = re.compile(r"^ {0,3}(```|~~~)[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.MULTILINE | re.DOTALL)
