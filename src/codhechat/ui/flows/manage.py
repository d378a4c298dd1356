"""Rename, pin and delete conversations (and a version of a message, with what follows
it: a branch); a delete can be undone for UNDO_S seconds."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from textual.screen import Screen
from textual.timer import Timer

from codhechat.errors import CodheError
from codhechat.models import Conversation, Message
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
        self.pending: tuple[Conversation | Message, Timer] | None = None

    def hidden(self, conversation_id: int) -> bool:
        """Whether a conversation is deleted, its undo pending (so not to be shown)."""
        return self.pending is not None and isinstance(self.pending[0], Conversation) and (
            self.pending[0].id == conversation_id)  # fmt: skip

    def ask_branch(self, message: Message) -> None:
        """Delete a version of a message (one that has others) and everything after it: the
        path shows the version beside it at once, the delete happens when the undo closes."""
        assert message.branch is not None
        position, count = message.branch

        async def confirmed(yes: bool | None) -> None:
            if yes and self.session.conversation_id == message.conversation_id:
                await self.finish()
                beside = message.siblings[position - 2 if position > 1 else position]
                try:
                    await self.session.show_branch(beside)
                except CodheError as exc:
                    self.screen.notify(str(exc), title="Not deleted", severity="error")
                    return
                self.pending = (message, self.screen.set_timer(UNDO_S, self.finish))
                self.screen.notify(f"Deleted version {position} of {count}. Ctrl+Z to undo.", timeout=UNDO_S)

        question = (f"Delete version {position} of {count} of this message, and everything that follows it?\n"
                    f"Ctrl+Z undoes it for {UNDO_S:g} seconds.")  # fmt: skip
        self.screen.app.push_screen(Confirm(question, yes="Delete"), confirmed)

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
        if isinstance(conversation, Message):
            await self._delete_branch(conversation)
            return
        try:
            await self.session.backend.delete_conversation(conversation.id)
        except CodheError as exc:
            if self.screen.is_attached:
                self.session.upsert(conversation)
                self.screen.notify(str(exc), title="Not deleted", severity="error")

    async def _delete_branch(self, message: Message) -> None:
        session = self.session
        try:
            await session.backend.delete_branch(message.conversation_id, message.id)
        except CodheError as exc:
            if self.screen.is_attached:
                self.screen.notify(str(exc), title="Not deleted", severity="error")
            return
        if self.screen.is_attached and session.conversation_id == message.conversation_id and not session.live_for(
                message.conversation_id):  # fmt: skip
            await session.open(message.conversation_id)  # one version fewer: the markers change

    def undo(self) -> None:
        pending, self.pending = self.pending, None
        if pending is None:
            return
        conversation, timer = pending
        timer.stop()
        if isinstance(conversation, Message):
            self.screen.run_worker(self._restore_branch(conversation), exit_on_error=False)
            return
        self.session.upsert(conversation)
        self.screen.notify(f"Restored “{conversation.title}”.")

    async def _restore_branch(self, message: Message) -> None:
        if self.session.conversation_id == message.conversation_id:
            try:
                await self.session.show_branch(message.id)
            except CodheError as exc:
                self.screen.notify(str(exc), severity="error")
                return
        self.screen.notify("Restored the version deleted.")
