"""The chat's state: the conversation list, the open conversation's window of messages,
and the replies being generated. A plain object: no widget, no Textual.

Why: what the app should do next (can this be retried? is a reply still running there?
whose is the reply that just finished?) used to be read off whichever widget happened
to be last on screen. Decided here, from state, it is one place to read and to test,
and screens only render. Screens call the methods below for what the user asks; what
changes on its own (a reply streaming in, a conversation touched) is told to the
screen through `SessionView`, whose async methods the session awaits so that a method
returns once the screen shows its result.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Coroutine
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from codhechat.backends import CONVERSATION_OPTIONS, TOKENS, ChatBackend, supports
from codhechat.errors import CodheError
from codhechat.models import (
    Conversation,
    Message,
    MessageStatus,
    ReplyDelta,
    ReplyDone,
    ReplyEvent,
    ReplyFailed,
    ReplyStarted,
)
from codhechat.ui.transcript import MAX_WINDOW, PAGE, Cancellable, Entry, LiveReply, Page, SentPrompt, Window, usage_of

CONVERSATION_PAGE = 200  # conversations listed per page


class SessionView(Protocol):
    """What a screen showing a session implements."""

    def run_reply(self, work: Coroutine[Any, Any, None]) -> Cancellable:
        """Run a reply's coroutine (tied to the screen, so it ends with it)."""
        ...

    async def show_window(self) -> None:
        """The window was replaced (another conversation, or a new one): show it all."""
        ...

    async def entries_added(self, entries: list[Entry]) -> None:
        """Entries were appended to the window."""
        ...

    async def entry_removed(self, entry: Entry) -> None:
        """An entry was taken out of the window (a reply about to be replaced)."""
        ...

    def conversations_changed(self) -> None:
        """The list, or the open conversation's title, model or options, changed."""
        ...

    def live_changed(self) -> None:
        """A reply started or ended: what is generating where."""
        ...

    def reply_grew(self, reply: LiveReply, text: str) -> None: ...

    def reply_ended(self, reply: LiveReply) -> None:
        """`reply.status` is set: complete, stopped (partial) or failed."""
        ...

    def reply_not_sent(self, reply: LiveReply, error: CodheError, prompt: str | None) -> None:
        """Nothing was stored: `prompt`, if given, should go back to the user to resend."""
        ...


class ChatSession:
    """See the module's docstring. `backend` is where conversations live."""

    def __init__(self, backend: ChatBackend, view: SessionView) -> None:
        self.backend = backend
        self.view = view
        self.conversations: list[Conversation] = []  # the loaded pages, newest first
        self.has_more = False  # more conversations than loaded
        self.conversation_id: int | None = None  # the open conversation; None: a new one
        self.window = Window()
        self.live: list[LiveReply] = []  # replies being generated, in any conversation

    # The conversation list

    def conversation(self, conversation_id: int | None) -> Conversation | None:
        return next((c for c in self.conversations if c.id == conversation_id), None)

    @property
    def title(self) -> str:
        conversation = self.conversation(self.conversation_id)
        return conversation.title if conversation else "New conversation"

    async def load_conversations(self, offset: int = 0) -> None:
        """The first page (offset 0) or the next one."""
        page = await self.backend.list_conversations(limit=CONVERSATION_PAGE + 1, offset=offset)
        self.has_more = len(page) > CONVERSATION_PAGE
        page = page[:CONVERSATION_PAGE]
        if offset:
            known = {c.id for c in self.conversations}
            page = self.conversations + [c for c in page if c.id not in known]
        self._list(page)

    def _list(self, conversations: list[Conversation]) -> None:
        self.conversations = sorted(conversations, key=lambda c: c.updated_at, reverse=True)
        self.view.conversations_changed()

    def upsert(self, conversation: Conversation) -> None:
        """A conversation was created, changed or got a reply."""
        self._list([conversation, *(c for c in self.conversations if c.id != conversation.id)])

    def hide(self, conversation_id: int) -> None:
        """Take a conversation off the list (being deleted); `upsert` puts it back."""
        self._list([c for c in self.conversations if c.id != conversation_id])

    def _touch(self, conversation_id: int) -> None:
        known = self.conversation(conversation_id)
        if known is not None:
            self.upsert(replace(known, updated_at=datetime.now(UTC)))

    async def change(self, change: Awaitable[Conversation | None]) -> Conversation | None:
        """Await a backend change to a conversation (rename, pin, options) and list its new
        state; None if it no longer exists. Raises CodheError."""
        updated = await change
        if updated is not None:
            self.upsert(updated)
        return updated

    def model_for(self, conversation_id: int | None) -> str:
        """The model a conversation's replies use: its own where the backend keeps one."""
        conversation = self.conversation(conversation_id)
        if conversation is not None and conversation.model and supports(self.backend, CONVERSATION_OPTIONS):
            return conversation.model
        return self.backend.model

    async def token_total(self, conversation_id: int) -> int | None:
        if not supports(self.backend, TOKENS):
            return None
        try:
            return await self.backend.conversation_tokens(conversation_id)
        except CodheError:
            return None

    # The open conversation

    async def open(self, conversation_id: int, *, at: int | None = None) -> None:
        """The newest page of a conversation or, given `at`, the page around that message.
        Raises CodheError (and then nothing changes)."""
        has_newer = False
        messages = await self.backend.get_messages(conversation_id, limit=PAGE + 1)
        has_older = len(messages) > PAGE
        messages = messages[-PAGE:]
        if at is not None and all(m.id != at for m in messages):
            half = PAGE // 2
            older = await self.backend.get_messages(conversation_id, before=at + 1, limit=half + 1)
            newer = await self.backend.get_messages(conversation_id, after=at, limit=half + 1)
            has_older, has_newer = len(older) > half, len(newer) > half
            messages = older[-half:] + newer[:half]
        entries: list[Entry] = list(messages)
        live = None if has_newer else self.live_for(conversation_id)
        if live is not None:
            if messages and messages[-1].role == "assistant":
                entries.pop()  # shown live instead of as last saved
            entries.append(live)
        self.conversation_id = conversation_id
        self.window = Window(entries, has_older, has_newer, found=at)
        await self.view.show_window()

    async def new_conversation(self) -> None:
        self.conversation_id = None
        self.window = Window()
        await self.view.show_window()

    async def older_page(self) -> Page | None:
        """Load the page before the window: (messages added at the top, how many entries
        were dropped at the bottom to keep the window bounded). Raises CodheError."""
        stored = self.window.stored()
        if self.conversation_id is None or not stored:
            return None
        older = await self.backend.get_messages(self.conversation_id, before=stored[0].id, limit=PAGE + 1)
        added = older[-PAGE:]
        window = self.window
        window.entries[:0] = added
        window.has_older = len(older) > PAGE
        dropped = max(0, len(window.entries) - MAX_WINDOW)
        if dropped:
            del window.entries[-dropped:]
            window.has_newer = True
        return added, dropped

    async def newer_page(self) -> Page | None:
        """Load the page after the window: (messages added at the bottom, how many entries
        were dropped at the top). At the end, the newest page is opened again instead (so
        that a live reply is shown) and None is returned. Raises CodheError."""
        stored = self.window.stored()
        if self.conversation_id is None or not stored:
            return None
        newer = await self.backend.get_messages(self.conversation_id, after=stored[-1].id, limit=PAGE + 1)
        if len(newer) <= PAGE:
            await self.open(self.conversation_id)
            return None
        added = newer[:PAGE]
        window = self.window
        window.entries += added
        dropped = max(0, len(window.entries) - MAX_WINDOW)
        if dropped:
            del window.entries[:dropped]
            window.has_older = True
        return added, dropped

    def texts(self) -> list[tuple[str, str]]:
        """(role, text) of every entry in the window, oldest first."""
        shown: list[tuple[str, str]] = []
        for entry in self.window.entries:
            if isinstance(entry, Message):
                shown.append((entry.role, entry.content))
            elif isinstance(entry, LiveReply):
                shown.append(("assistant", entry.text))
            else:
                shown.append(("user", entry.text))
        return shown

    async def _remove(self, entry: Entry) -> None:
        if any(e is entry for e in self.window.entries):
            self.window.entries = [e for e in self.window.entries if e is not entry]
            await self.view.entry_removed(entry)

    # Replies

    def live_for(self, conversation_id: int | None) -> LiveReply | None:
        return next((r for r in self.live if r.conversation_id == conversation_id), None)

    async def send(self, text: str) -> None:
        """Send `text` in the open conversation (a new one if none is open)."""
        prompt = SentPrompt(text)
        await self._reply(self.backend.stream_reply(self.conversation_id, text), prompt, resend=text)

    async def _reply(self, events: AsyncIterator[ReplyEvent], *before: Entry, resend: str | None = None) -> None:
        """Show `before` and a new reply under the window, and run it. `resend` is the
        prompt to give back if the backend fails before storing it."""
        reply = LiveReply(self.conversation_id, self.model_for(self.conversation_id))
        self.window.entries += [*before, reply]
        await self.view.entries_added([*before, reply])
        self.live.append(reply)
        reply.task = self.view.run_reply(self._run(reply, events, resend))
        self.view.live_changed()

    def stop(self) -> None:
        """Stop the open conversation's reply, keeping what arrived."""
        reply = self.live_for(self.conversation_id)
        if reply is not None and reply.task is not None:
            reply.task.cancel()

    async def stop_all(self) -> None:
        """Cancel every reply and wait until each has stored what arrived."""
        tasks = [r.task for r in self.live if r.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task.wait()
            except Exception:  # noqa: BLE001, S110 (a cancelled or failed reply: it said so itself)
                pass

    async def retry(self) -> str | None:
        """Generate again the open conversation's failed, stopped or missing last reply;
        or say (the returned text) why there is nothing to retry."""
        if self.live_for(self.conversation_id) is not None:
            return None
        if self.conversation_id is None:
            return await self._resend_unstored()
        entries = self.window.entries
        last = entries[-1] if entries else None
        unanswered = isinstance(last, Message) and last.role == "user"
        failed = (isinstance(last, LiveReply) and last.status not in (None, MessageStatus.COMPLETE)) or (
            isinstance(last, Message) and last.status != MessageStatus.COMPLETE
        )
        if not (unanswered or failed):
            return "The last reply is complete: nothing to retry."
        if last is not None and not unanswered:
            await self._remove(last)
        await self._reply(self.backend.retry_reply(self.conversation_id))
        return None

    async def _resend_unstored(self) -> str | None:
        """The first message of a new conversation failed before the server named the
        conversation (a classic server's socket dropped first): send the kept prompt
        again, as the first message of a new conversation."""
        entries = self.window.entries
        failed = entries[-1] if entries else None
        prompt = entries[-2] if len(entries) >= 2 else None
        if not (isinstance(failed, LiveReply) and failed.status not in (None, MessageStatus.COMPLETE)
                and isinstance(prompt, SentPrompt)):  # fmt: skip
            return "There is nothing here to retry."
        await self._remove(failed)
        await self._reply(self.backend.stream_reply(None, prompt.text), resend=prompt.text)
        return None

    def finished_reply(self) -> tuple[Entry, bool, str] | None:
        """The open conversation's last reply if it has ended: (it, complete?, its text)."""
        entries = self.window.entries
        last = entries[-1] if entries else None
        if isinstance(last, Message) and last.role == "assistant":
            return last, last.status == MessageStatus.COMPLETE, last.content
        if isinstance(last, LiveReply) and last.status is not None:
            return last, last.status == MessageStatus.COMPLETE, last.text
        return None

    async def regenerate(self, old: Entry) -> None:
        """Replace the open conversation's last reply, `old`, with a new one."""
        assert self.conversation_id is not None
        await self._remove(old)
        await self._reply(self.backend.regenerate_reply(self.conversation_id))

    async def resend_edited(self, message: Message, text: str) -> None:
        """Replace one of the user's messages with `text`, drop every later one and reply
        to it. Raises CodheError (and then nothing changes)."""
        conversation_id = message.conversation_id
        earlier = await self.backend.get_messages(conversation_id, before=message.id, limit=PAGE + 1)
        self.conversation_id = conversation_id
        self.window = Window(list(earlier[-PAGE:]), has_older=len(earlier) > PAGE)
        await self.view.show_window()
        events = self.backend.edit_and_resend(conversation_id, message.id, text)
        await self._reply(events, SentPrompt(text))

    async def _run(self, reply: LiveReply, events: AsyncIterator[ReplyEvent], resend: str | None) -> None:
        started = False
        try:
            # Backends' streams are async generators (the protocol says AsyncIterator): closed
            # here, so a stopped reply's backend runs its cleanup (storing what arrived) now.
            async with aclosing(cast(AsyncGenerator[ReplyEvent, None], events)) as stream:
                async for event in stream:
                    started = started or isinstance(event, ReplyStarted)
                    self._on_event(reply, event)
        except CodheError as exc:
            # Nothing was stored (the database failed before the prompt was saved).
            reply.status, reply.error, reply.hint = MessageStatus.ERROR, exc.message, exc.hint
            self.view.reply_not_sent(reply, exc, None if started else resend)
        except BaseException:
            reply.status = MessageStatus.PARTIAL
            self.view.reply_ended(reply)
            raise
        finally:
            self.live.remove(reply)
            self.view.live_changed()

    def _on_event(self, reply: LiveReply, event: ReplyEvent) -> None:
        match event:
            case ReplyDelta(text=text):
                reply.parts.append(text)
                self.view.reply_grew(reply, text)
            case ReplyStarted(conversation=conversation):
                reply.conversation_id = conversation.id
                if self.conversation_id is None and any(e is reply for e in self.window.entries):
                    self.conversation_id = conversation.id  # the new conversation is the open one
                self.upsert(conversation)
            case ReplyDone(message=message):
                reply.status, reply.usage = MessageStatus.COMPLETE, usage_of(message)
                self.view.reply_ended(reply)
                self._touch(message.conversation_id)
            case ReplyFailed(error=error, message=message):
                reply.status = MessageStatus.ERROR
                if isinstance(error, CodheError):
                    reply.error, reply.hint = error.message, error.hint
                else:
                    reply.error = str(error)
                self.view.reply_ended(reply)
                if message is not None:
                    self._touch(message.conversation_id)
