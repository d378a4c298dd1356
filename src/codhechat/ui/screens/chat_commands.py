"""The chat screen's commands that run a flow (codhechat.ui.flows): managing
conversations, copying, per-conversation settings, attachments. A mixin of ChatScreen,
kept apart so that the screen itself holds only views and what the session tells it.

Each flow is imported when its command first runs: the first frame needs none of them
(nor their dialogs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from codhechat.models import Conversation
from codhechat.ui.flows import manage

if TYPE_CHECKING:
    from codhechat.ui.session import ChatSession
    from codhechat.ui.widgets.prompt import PromptInput
    from codhechat.ui.widgets.sidebar import ConversationTree


class ChatCommands(Screen[None]):
    session: ChatSession
    sidebar: ConversationTree
    deletes: manage.DeleteWithUndo

    @property
    def conversation_id(self) -> int | None:
        """The open conversation (None: a new one)."""
        return self.session.conversation_id

    def _target(self) -> Conversation | None:
        """The conversation a command is about: the one under the sidebar's cursor
        when the sidebar has the focus, else the open one."""
        node = self.sidebar.cursor_node
        if self.sidebar.has_focus and node is not None and isinstance(node.data, int):
            return self.session.conversation(node.data)
        return self.session.conversation(self.conversation_id)

    def action_rename(self) -> None:
        manage.rename(self, self.session, self._target())

    async def action_toggle_pin(self) -> None:
        await manage.toggle_pin(self, self.session, self._target())

    def action_delete(self) -> None:
        self.deletes.ask(self._target())

    def action_undo_delete(self) -> None:
        self.deletes.undo()

    async def finish_pending_delete(self) -> None:
        await self.deletes.finish()

    def action_search(self) -> None:
        from codhechat.ui.flows.search import search_conversations

        search_conversations(self, self.session, hidden=self.deletes.hidden)

    def action_copy_last_reply(self) -> None:
        from codhechat.ui.flows import copy

        copy.copy_last_reply(self, self.session)

    def action_copy_code_block(self) -> None:
        from codhechat.ui.flows import copy

        copy.copy_code_block(self, self.session)

    def action_copy_message(self) -> None:
        from codhechat.ui.flows import copy

        copy.copy_message(self, self.session)

    def action_choose_model(self) -> None:
        from codhechat.ui.flows import settings

        self.run_worker(settings.choose_model(self, self.session), group="dialog", exclusive=True)

    def action_choose_system_prompt(self) -> None:
        from codhechat.ui.flows import settings

        self.run_worker(settings.choose_system_prompt(self, self.session), group="dialog", exclusive=True)

    def action_choose_generation(self) -> None:
        from codhechat.ui.flows import generation

        self.run_worker(generation.choose_generation(self, self.session), group="dialog", exclusive=True)

    def action_sign_in(self) -> None:
        from codhechat.ui.flows import sign_in

        self.run_worker(sign_in.sign_in_again(self, self.session), group="dialog", exclusive=True)

    def action_edit_message(self) -> None:
        from codhechat.ui.flows import settings

        self.run_worker(settings.edit_message(self, self.session), group="dialog", exclusive=True)

    async def on_prompt_input_file_named(self, event: PromptInput.FileNamed) -> None:
        """Tab completed `@path` to a file in the prompt: attach it."""
        from codhechat.ui.flows import attach

        await attach.attach_path(self, self.session, event.path)

    def action_attach_file(self) -> None:
        from codhechat.ui.flows import attach

        self.run_worker(attach.pick_and_attach(self, self.session), group="dialog", exclusive=True)

    def action_attach_resource(self) -> None:
        from codhechat.ui.flows import attach

        self.run_worker(attach.attach_resource(self, self.session), group="dialog", exclusive=True)

    def action_save_attachment(self) -> None:
        from codhechat.ui.flows import attach

        self.run_worker(attach.save_attachment(self, self.session), group="dialog", exclusive=True)
