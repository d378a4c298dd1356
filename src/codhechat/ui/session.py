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

from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime

from codhechat.backends import BRANCHES, CONVERSATION_OPTIONS, TOKENS, ChatBackend, supports
from codhechat.errors import CodheError
from codhechat.models import (
    ContextUse,
    Conversation,
    Message,
)
from codhechat.ui.session_replies import SessionReplies, SessionView
from codhechat.ui.session_tools import waiting
from codhechat.ui.transcript import MAX_WINDOW, PAGE, Entry, LiveReply, LiveTool, Page, SentPrompt, Window, stored_of

CONVERSATION_PAGE = 200  # conversations listed per page


class ChatSession(SessionReplies):
    """See the module's docstring. `backend` is where conversations live."""

    def __init__(self, backend: ChatBackend, view: SessionView) -> None:
        self.backend = backend
        self.view = view
        self.conversations: list[Conversation] = []  # the loaded pages, newest first
        self.has_more = False  # more conversations than loaded
        self.conversation_id: int | None = None  # the open conversation; None: a new one
        self.window = Window()
        self.calls: list[LiveTool] = []  # tool calls waiting for approval or a result, in any conversation
        self.live: list[LiveReply] = []  # replies being generated, in any conversation
        self.branch_focus: int | None = None  # the message the branch keys switch, if not the newest with versions

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

    async def context_use(self, conversation_id: int) -> ContextUse | None:
        if not supports(self.backend, TOKENS):
            return None
        try:
            return await self.backend.context_use(conversation_id)
        except CodheError:
            return None

    # The open conversation

    async def open(self, conversation_id: int, *, at: int | None = None, mark: str = "found") -> None:
        """The newest page of a conversation or, given `at`, the page around that message
        (marked with the class `mark`). Raises CodheError (and then nothing changes)."""
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
        if live is not None and live.status is None:
            if messages and messages[-1].role == "assistant":
                entries.pop()  # shown live instead of as last saved
            entries.append(live)
        if live is not None:
            entries += waiting(self, conversation_id)  # tool calls still asking or running
        self.conversation_id = conversation_id
        self.window = Window(entries, has_older, has_newer, found=at, mark=mark)
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

    # Branches (where the backend keeps them: BRANCHES)

    def branch_points(self) -> list[Message]:
        """The messages shown that have other versions, oldest first."""
        return [s for e in self.window.entries if (s := stored_of(e)) is not None and s.branch is not None]

    def branch_point(self) -> Message | None:
        """What the branch keys switch: the message chosen with Alt+Up/Down (move_branch_focus)
        while it is shown, else the newest message shown that has other versions."""
        points = self.branch_points()
        return next((p for p in points if p.id == self.branch_focus), points[-1] if points else None)

    def move_branch_focus(self, step: int) -> Message | None:
        """Choose the message with versions before (-1) or after (+1) the branch point."""
        points, current = self.branch_points(), self.branch_point()
        if current is None:
            return None
        chosen = points[max(0, min(len(points) - 1, points.index(current) + step))]
        self.branch_focus = chosen.id
        return chosen

    def why_not_switch(self, message: Message | None = None) -> str | None:
        if self.conversation_id is None or not supports(self.backend, BRANCHES):
            return "There is no other version here."
        if self.live_for(self.conversation_id) is not None:
            return "A reply is being generated here: stop it (Esc) first."
        if (message or self.branch_point()) is None:
            return "Nothing here has another version: edit a message (F12) or regenerate a reply (Ctrl+G) to make one."
        return None

    def why_not(self, action: str) -> str | None:
        """Why a command the session decides on cannot run now (None: it can, or it is not
        one of the session's)."""
        if action == "continue_reply":
            return self.why_not_continue()
        if action in ("previous_branch", "next_branch", "delete_branch", "earlier_branch", "later_branch"):
            return self.why_not_switch()
        return None

    async def switch_sibling(self, step: int, message: Message | None = None) -> str | None:
        """Show the previous (-1) or next (+1) version of `message` (by default the branch
        point) and what follows it; or say why not. Raises CodheError."""
        if (why := self.why_not_switch(message)) is not None:
            return why
        message = message or self.branch_point()
        assert message is not None
        index = message.siblings.index(message.id) + step
        if not 0 <= index < len(message.siblings):
            return f"This is the {'first' if step < 0 else 'last'} version."
        await self.show_branch(message.siblings[index])
        return None

    async def show_branch(self, message_id: int) -> None:
        """Make the path through a message current and show it there. Raises CodheError."""
        assert self.conversation_id is not None
        await self.backend.switch_branch(self.conversation_id, message_id)
        self.branch_focus = message_id
        await self.open(self.conversation_id, at=message_id, mark="branch-focus")

    def texts(self) -> list[tuple[str, str]]:
        """(role, text) of every entry in the window, oldest first."""
        shown: list[tuple[str, str]] = []
        for entry in self.window.entries:
            if isinstance(entry, Message):
                shown.append((entry.role, entry.content))
            elif isinstance(entry, LiveReply):
                shown.append(("assistant", entry.text))
            elif isinstance(entry, SentPrompt):
                shown.append(("user", entry.text))
        return shown

    async def _remove(self, entry: Entry) -> None:
        if any(e is entry for e in self.window.entries):
            self.window.entries = [e for e in self.window.entries if e is not entry]
            await self.view.entry_removed(entry)
