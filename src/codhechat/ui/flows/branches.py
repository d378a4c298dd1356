"""Branches of a conversation (where the backend keeps them): Alt+← / Alt+→ and a click on
a header's `< 2/3 >` show another version of a message with what follows it; "Delete
this version" takes one away, with the same undo as deleting a conversation.

BranchCommands is a part of the chat screen (a mixin: its actions and handlers are the
screen's), kept here so that the screen stays a list of views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codhechat.errors import CodheError
from codhechat.models import Message
from codhechat.ui.transcript import Entry
from codhechat.ui.widgets.branches import BranchStep

if TYPE_CHECKING:
    from codhechat.ui.flows.manage import DeleteWithUndo
    from codhechat.ui.session import ChatSession
    from codhechat.ui.widgets.pane import MessagePane


class BranchCommands:
    session: ChatSession
    pane: MessagePane
    deletes: DeleteWithUndo
    notify: Any

    async def action_previous_branch(self) -> None:
        await self._step(-1)

    async def action_next_branch(self) -> None:
        await self._step(1)

    def action_earlier_branch(self) -> None:
        self._focus(-1)

    def action_later_branch(self) -> None:
        self._focus(1)

    def _focus(self, step: int) -> None:
        """Alt+Up/Down: which message with versions Alt+Left/Right switch."""
        chosen = self.session.move_branch_focus(step)
        if chosen is None:
            self.notify(self.session.why_not_switch() or "Nothing here has another version.")
        else:
            self.pane.show_found(chosen.id, mark="branch-focus")

    async def on_branch_step(self, event: BranchStep) -> None:
        await self._step(event.step, event.message)

    async def _step(self, step: int, message: Message | None = None) -> None:
        try:
            why = await self.session.switch_sibling(step, message)
        except CodheError as exc:
            self.notify(str(exc), title="Cannot switch versions", severity="error")
            return
        if why is not None:
            self.notify(why)

    def action_delete_branch(self) -> None:
        session = self.session
        if (why := session.why_not_switch()) is not None:
            self.notify(why)
            return
        message = session.branch_point()
        assert message is not None
        self.deletes.ask_branch(message)

    def entry_stored(self, entry: Entry) -> None:  # SessionView
        self.pane.entry_stored(entry)
