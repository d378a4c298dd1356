"""Local mode: conversations in SQLite, replies from an OpenAI-compatible endpoint.

The store calls run in worker threads (LocalReplies); each turn is the shared turn
engine (codhechat.turn) over that store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING

from codhechat.backends import (
    ATTACH,
    BRANCHES,
    CONTINUE,
    CONVERSATION_OPTIONS,
    DELETE,
    EDIT,
    IMPORT,
    PIN,
    REGENERATE,
    RENAME,
    SEARCH,
    TOKENS,
    TOOLS,
)
from codhechat.backends.local_files import LocalFiles
from codhechat.backends.local_replies import LocalReplies
from codhechat.backends.local_settings import LocalSettings
from codhechat.context import Calibration
from codhechat.errors import CodheError, ModelError, StorageError, UsageError
from codhechat.first_settings import DeferredSettings, FirstFrame
from codhechat.llm import ModelClient
from codhechat.models import (
    AttachedFile,
    ConnectionState,
    ContextUse,
    Conversation,
    ConversationRecord,
    FinishReason,
    Generation,
    Message,
    MessageStatus,
    ProviderModels,
    ReplyEvent,
    ReplyStarted,
    SearchHit,
    title_for,
)
from codhechat.providers import Providers
from codhechat.store import Store
from codhechat.turn import SAVE_INTERVAL_S, TurnPlan, run_turn

if TYPE_CHECKING:
    from codhechat.config import Settings
    from codhechat.tools.toolbox import Toolbox

__all__ = ["SAVE_INTERVAL_S", "LocalBackend"]


class LocalBackend(LocalSettings, LocalFiles):
    mode = "local"
    capabilities = frozenset(
        {
            RENAME,
            DELETE,
            PIN,
            SEARCH,
            REGENERATE,
            CONVERSATION_OPTIONS,
            EDIT,
            TOKENS,
            CONTINUE,
            IMPORT,
            ATTACH,
            BRANCHES,
        }
    )

    def __init__(
        self,
        settings: Settings | DeferredSettings[Settings],
        store: Store,
        client: ModelClient | None = None,
        *,
        conversation_options: bool = True,
    ) -> None:
        """`conversation_options=False` ignores a conversation's own model and system
        prompt, so the settings given (`codhechat ask --model/--system`) always apply.

        Given DeferredSettings (`codhechat` itself), the first frame is served from their
        first-frame part and the whole settings are loaded after it (`load_settings`), or
        on the first call that needs them."""
        self._deferred = settings if isinstance(settings, DeferredSettings) else None
        self._settings: Settings | None = None
        self.store = store
        self.replies = LocalReplies(store)
        self.conversation_options = conversation_options
        first = settings.first if isinstance(settings, DeferredSettings) else FirstFrame.of(settings)
        self.model = first.model
        # No model chosen (the default is a guess) and an endpoint of one's own: its model
        # is found on first use (resolve_model), since Ollama and vLLM refuse unknown names.
        self._model_open = not first.model_chosen and first.base_url is not None
        self.model_choices: list[str] = []  # several models and none chosen: the UI asks once
        self.calibration = Calibration()  # how far token estimates are from the endpoint's counts
        self._client = client
        self._providers: Providers | None = None
        self.toolbox: Toolbox | None = None  # the MCP servers' tools, made on the first turn
        if not isinstance(settings, DeferredSettings):
            self._loaded(settings)

    def _settings_loaded(self, settings: Settings) -> None:
        if any(server.enabled for server in settings.mcp.servers.values()):
            self.capabilities = LocalBackend.capabilities | {TOOLS}

    @property
    def client(self) -> ModelClient:
        """The default provider's client (the top-level api_key/base_url)."""
        return self.providers.default

    def watch_connection(self, listener: Callable[[ConnectionState], None]) -> Callable[[], None]:
        """Local mode has no link to a server: nothing ever changes."""
        return lambda: None

    # Conversations

    async def list_conversations(self, *, limit: int = 200, offset: int = 0) -> list[Conversation]:
        return await self.replies.read(self.store.list_conversations, limit=limit, offset=offset)

    async def get_conversation(self, conversation_id: int) -> Conversation | None:
        return await self.replies.read(self.store.get_conversation, conversation_id)

    async def get_messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        return await self.replies.read(
            self.store.get_messages, conversation_id, before=before, after=after, limit=limit
        )

    async def rename_conversation(self, conversation_id: int, title: str) -> Conversation | None:
        return await self.replies.write(self.store.rename_conversation, conversation_id, title)

    async def delete_conversation(self, conversation_id: int) -> int | None:
        return await self.replies.write(self.store.delete_conversation, conversation_id)

    async def set_pinned(self, conversation_id: int, pinned: bool) -> Conversation | None:
        return await self.replies.write(self.store.set_pinned, conversation_id, pinned)

    async def search(
        self, query: str, *, limit: int = 30, newest_first: bool = False, syntax: bool = False
    ) -> list[SearchHit]:
        return await self.replies.read(self.store.search, query, limit=limit, newest_first=newest_first, syntax=syntax)

    async def import_conversations(
        self, records: Sequence[ConversationRecord]
    ) -> tuple[list[Conversation], list[ConversationRecord]]:
        return await self.replies.write(self.store.import_conversations, records)

    @property
    def system_prompt_presets(self) -> dict[str, str]:
        """The configured presets, and the MCP servers' prompts (once the servers run)."""
        mcp = self.toolbox.prompts() if self.toolbox is not None else {}
        return {**mcp, **self.settings.presets}

    @property
    def default_system_prompt(self) -> str:
        return self.settings.system_prompt

    async def list_models(self) -> list[str]:
        """Every provider's models (NAME/MODEL for the configured ones), asked at once;
        if none answered, why the default one did not."""
        groups = await self.model_catalogue()
        models = [model for group in groups for model in group.models]
        if not models and groups and groups[0].error:
            raise ModelError(groups[0].error, "Type the model's name instead.")
        return models

    async def model_catalogue(self) -> list[ProviderModels]:
        """The models grouped by provider, with why a provider has none (it is down...)."""
        return await self.providers.catalogue()

    async def set_conversation_options(
        self, conversation_id: int, *, model: str | None, system_prompt: str | None
    ) -> Conversation | None:
        return await self.replies.write(
            self.store.set_conversation_options, conversation_id,
            model=model or None, system_prompt=system_prompt or None,
        )  # fmt: skip

    async def set_generation(self, conversation_id: int, generation: Generation) -> Conversation | None:
        """A conversation's generation parameters (temperature, top_p, max_tokens, seed,
        reasoning_effort); unset ones are left to the endpoint."""
        return await self.replies.write(self.store.set_generation, conversation_id, generation)

    async def context_use(self, conversation_id: int) -> ContextUse | None:
        tokens = await self.replies.read(self.store.context_tokens, conversation_id)
        if tokens is None:
            return None
        conversation = await self.get_conversation(conversation_id)
        model = (conversation.model if conversation and self.conversation_options else None) or self.model
        route = self.providers.route(model)
        return ContextUse(tokens, self.settings.context_window or await route.client.context_window(route.model))

    # Branches

    async def switch_branch(self, conversation_id: int, message_id: int) -> None:
        await self.replies.write(self.store.switch_branch, conversation_id, message_id)

    async def delete_branch(self, conversation_id: int, message_id: int) -> int:
        return await self.replies.write(self.store.delete_branch, conversation_id, message_id)

    async def message_tree(self, conversation_id: int) -> list[Message]:
        return await self.replies.read(self.store.all_messages, conversation_id)

    # Replies

    async def stream_reply(
        self, conversation_id: int | None, prompt: str, *, title: str | None = None,
        attachments: Sequence[AttachedFile] = (),
    ) -> AsyncGenerator[ReplyEvent, None]:  # fmt: skip
        prompt = prompt.strip()
        if not prompt and not attachments:
            raise ValueError("empty prompt")
        conversation = None
        if conversation_id is not None:
            conversation = await self.get_conversation(conversation_id)
        if conversation is None:
            await self.resolve_model()
            conversation = await self.replies.write(
                self.store.create_conversation,
                title_for(title or prompt or ", ".join(f.attachment.name for f in attachments)),
                model=self.model,
            )
        user_message = await self.replies.write(
            self.store.add_message, conversation.id, "user", prompt, attachments=attachments
        )
        yield ReplyStarted(conversation, user_message)
        async with aclosing(self._turn(conversation)) as turn:
            async for event in turn:
                yield event

    async def retry_reply(self, conversation_id: int) -> AsyncGenerator[ReplyEvent, None]:
        """Answer the last message again, in place of an unfinished last reply, which is
        kept until the new one has text of its own (a retry that fails loses nothing)."""
        conversation, last = await self._last(conversation_id)
        replaces = None
        if last is not None and last.role == "assistant":
            if last.status == MessageStatus.COMPLETE:
                return  # nothing to retry
            replaces = last.id
            await self.replies.write(self.store.branch_before, conversation_id, last.id)
        yield ReplyStarted(conversation, None)
        async with aclosing(self._turn(conversation, replaces=replaces)) as turn:
            async for event in turn:
                yield event

    async def regenerate_reply(self, conversation_id: int) -> AsyncGenerator[ReplyEvent, None]:
        """A new last reply, whatever the state of the current one, beside it (the old one
        stays, one branch away; a new one that gets no text at all is dropped)."""
        conversation, last = await self._last(conversation_id)
        if last is None:
            return  # nothing to answer
        alternative = last.id if last.role == "assistant" else None
        if alternative is not None:
            await self.replies.write(self.store.branch_before, conversation_id, alternative)
        yield ReplyStarted(conversation, None)
        async with aclosing(self._turn(conversation, alternative_to=alternative)) as turn:
            async for event in turn:
                yield event

    async def continue_reply(self, conversation_id: int) -> AsyncGenerator[ReplyEvent, None]:
        """Ask for the rest of a last reply that stopped early (the length limit, a cut
        stream, Esc); the new text is added to that reply, not written as another."""
        conversation, last = await self._last(conversation_id)
        if last is None or last.role != "assistant" or not last.content:
            raise UsageError("There is no reply here to continue.")
        if last.status == MessageStatus.COMPLETE and last.finish_reason != FinishReason.LENGTH:
            raise UsageError("The last reply is complete: there is nothing to continue.")
        yield ReplyStarted(conversation, None)
        async with aclosing(self._turn(conversation, extends=last)) as turn:
            async for event in turn:
                yield event

    async def edit_and_resend(
        self, conversation_id: int, message_id: int, content: str
    ) -> AsyncGenerator[ReplyEvent, None]:
        content = content.strip()
        if not content:
            raise ValueError("empty message")
        conversation = await self.get_conversation(conversation_id)
        if conversation is None:
            raise StorageError("That conversation no longer exists.")
        message = await self.replies.write(self.store.edit_message, conversation_id, message_id, content)
        yield ReplyStarted(conversation, message)
        async with aclosing(self._turn(conversation)) as turn:
            async for event in turn:
                yield event

    async def _last(self, conversation_id: int) -> tuple[Conversation, Message | None]:
        conversation = await self.get_conversation(conversation_id)
        if conversation is None:
            raise StorageError("That conversation no longer exists.")
        last = await self.replies.read(self.store.get_messages, conversation_id, limit=1)
        return conversation, (last[0] if last else None)

    async def resolve_model(self) -> str | None:
        """Where no model was chosen and the endpoint does not serve the default, use the
        endpoint's own (the only one it lists), or list them in `model_choices` to choose
        from. Returns what to tell the user, if anything. Asks the endpoint once."""
        if not self._model_open:
            return None
        self._model_open = False
        try:
            served = await self.client.list_models()
        except CodheError:
            return None  # the first reply will say what is wrong with the endpoint
        if not served or self.model in served:
            return None
        if len(served) == 1:
            self.model = served[0]
            return f"Using {self.model}, the model {self.client.endpoint} serves (no model was chosen)."
        self.model_choices = served
        return (
            f"{self.client.endpoint} does not serve {self.model} but {len(served)} other models: "
            "choose one (F5), or set `model` in the config."
        )

    async def _turn(
        self, conversation: Conversation, *, replaces: int | None = None, extends: Message | None = None,
        alternative_to: int | None = None,
    ) -> AsyncGenerator[ReplyEvent, None]:  # fmt: skip
        await self.resolve_model()
        # The conversation's own model and system prompt, else the configured ones.
        model, system_prompt = self.model, self.settings.system_prompt
        if self.conversation_options:
            model = conversation.model or model
            system_prompt = conversation.system_prompt or system_prompt
        route = self.providers.route(model)
        count = self.settings.history_window
        history = await self.replies.read(self.store.history, conversation.id, count + 1)
        history = [m for m in history if m.id != replaces][-count:]
        parts = await self.replies.read(self._parts, history)
        plan = TurnPlan(
            conversation_id=conversation.id,
            parts=parts,
            model=route.model,
            provider=route.provider,
            system_prompt=system_prompt,
            history=history,
            window=self.settings.context_window or await route.client.context_window(route.model),
            replaces=replaces,
            extends=extends,
            alternative_to=alternative_to,
            options=conversation.generation.options() if self.conversation_options else {},
            tools_off=conversation.tools_off,
        )
        turn = run_turn(route.client, self.replies, plan, calibration=self.calibration, save_interval=SAVE_INTERVAL_S,
                        tools=self._toolbox())  # fmt: skip
        async with aclosing(turn):  # closed at once when the caller stops, not when collected
            async for event in turn:
                yield event

    # The rest of ChatBackend

    async def sign_in(self, username: str, password: str) -> None:
        raise CodheError("Local mode has no accounts: there is no server to sign in to.")

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.client.warm_up)
        await asyncio.to_thread(lambda: self.store.db)  # sqlite-utils, left out of the first frame

    def set_api_key(self, api_key: str) -> None:
        """A key typed into the app (F2) is the default provider's."""
        old = self.client
        self.providers.replace_default(
            ModelClient(api_key=api_key, base_url=old.base_url, timeout=old.timeout, max_retries=old.max_retries)
        )

    async def aclose(self) -> None:
        if self.toolbox is not None:
            await self.toolbox.aclose()
        await self.providers.aclose()
        await self.replies.read(self.replies.flush)
        await self.replies.read(self.store.close)
