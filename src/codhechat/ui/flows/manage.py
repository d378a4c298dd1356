"""Rename, pin and delete conversations; a delete can be undone for UNDO_S seconds."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from textual.screen import Screen
from textual.timer import Timer

from codhechat.errors import CodheError
from codhechat.models import Conversation
from codhechat.ui.screens.dialogs import AskText, Confirm
from codhechat.ui.session import ChatSession

UNDO_S = 8.0


async def apply_change(
    screen: Screen[Any], session: ChatSession, change: Awaitable[Conversation | None], failure: str
) -> Conversation | None:
    """Await a backend change to a conversation and list its new state, or say why not."""
    try:
        updated = await session.change(change)
    except CodheError as exc:
        screen.notify(str(exc), title=failure, severity="error")
        return None
    if updated is None:
        screen.notify("That conversation no longer exists.", severity="warning")
    return updated


def rename(screen: Screen[Any], session: ChatSession, target: Conversation | None) -> None:
    if target is None:
        screen.notify("Open or select a conversation to rename it.")
        return

    async def renamed(title: str | None) -> None:
        if title and title != target.title:
            await apply_change(screen, session, session.backend.rename_conversation(target.id, title), "Cannot rename")

    screen.app.push_screen(AskText("Rename the conversation", target.title), renamed)


async def toggle_pin(screen: Screen[Any], session: ChatSession, target: Conversation | None) -> None:
    if target is None:
        screen.notify("Open or select a conversation to pin it.")
        return
    change = session.backend.set_pinned(target.id, target.pinned_at is None)
    updated = await apply_change(screen, session, change, "Cannot pin")
    if updated is not None:
        screen.notify(f"{'Pinned' if updated.pinned_at else 'Unpinned'} “{updated.title}”.")


class DeleteWithUndo:
    """A confirmed delete hides the conversation at once and deletes it when the undo
    window closes (or the app quits): undoing is then just listing it again, with
    nothing to restore."""

    def __init__(self, screen: Screen[Any], session: ChatSession) -> None:
        self.screen = screen
        self.session = session
        self.pending: tuple[Conversation, Timer] | None = None

    def hidden(self, conversation_id: int) -> bool:
        """Whether a conversation is deleted, its undo pending (so not to be shown)."""
        return self.pending is not None and self.pending[0].id == conversation_id

    def ask(self, target: Conversation | None) -> None:
        screen = self.screen
        if target is None:
            screen.notify("Open or select a conversation to delete it.")
            return
        if self.session.live_for(target.id) is not None:
            screen.notify("A reply is being generated there: stop it (Esc) first.", severity="warning")
            return

        async def confirmed(yes: bool | None) -> None:
            if yes:
                await self._delete_later(target)

        question = f"Delete “{target.title}” and all its messages?\nCtrl+Z undoes it for {UNDO_S:g} seconds."
        screen.app.push_screen(Confirm(question, yes="Delete"), confirmed)

    async def _delete_later(self, conversation: Conversation) -> None:
        await self.finish()
        self.session.hide(conversation.id)
        if self.session.conversation_id == conversation.id:
            await self.screen.run_action("new_conversation")
        timer = self.screen.set_timer(UNDO_S, self.finish)
        self.pending = (conversation, timer)
        self.screen.notify(f"Deleted “{conversation.title}”. Ctrl+Z to undo.", timeout=UNDO_S)

    async def finish(self) -> None:
        """Delete now what is waiting for its undo window to close."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        conversation, timer = pending
        timer.stop()
        try:
            await self.session.backend.delete_conversation(conversation.id)
        except CodheError as exc:
            if self.screen.is_attached:
                self.session.upsert(conversation)
                self.screen.notify(str(exc), title="Not deleted", severity="error")

    def undo(self) -> None:
        pending, self.pending = self.pending, None
        if pending is None:
            return
        conversation, timer = pending
        timer.stop()
        self.session.upsert(conversation)
        self.screen.notify(f"Restored “{conversation.title}”.")
