"""The conversation extensions of `codhechat serve` on the client's side: pin, a model
and system prompt per conversation, the server's models (F5), token usage, and JSON
import (codhechat.protocol.conversation_ext says what each is on the wire).

`abilities()` maps what `GET /extensions` lists onto the app's abilities
(codhechat.backends), so the UI offers a command only where the server has it; a
classic server lists nothing and gets none of these. `ConversationExtensions` is the
part of RemoteBackend that uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from codhechat.backends import ATTACH, CONVERSATION_OPTIONS, DELETE, IMPORT, PIN, RENAME, SEARCH, TOKENS
from codhechat.backends.remote.errors import RemoteError, body_of, status_error
from codhechat.models import ContextUse, Conversation, ConversationRecord, Message, ProviderModels
from codhechat.protocol import conversation_ext as ext
from codhechat.protocol.rest import ConversationSummary

if TYPE_CHECKING:
    from codhechat.backends.remote.api import ServerApi

# An extension's name -> the ability it gives (several names may give one).
ABILITIES = {
    "rename": RENAME, "delete": DELETE, "search": SEARCH, "attachments": ATTACH, ext.PIN: PIN,
    ext.CONVERSATION_OPTIONS: CONVERSATION_OPTIONS, ext.TOKENS: TOKENS, ext.ARCHIVE: IMPORT,
}  # fmt: skip
SUMMARY = TypeAdapter(ConversationSummary)
MODEL_LIST = TypeAdapter(ext.ModelList)
IMPORT_RESULT = TypeAdapter(ext.ImportResult)
NOT_FOUND = "That conversation does not exist on the server (any more)."


def abilities(named: set[str]) -> set[str]:
    return {ability for name, ability in ABILITIES.items() if name in named}


async def _put(api: ServerApi, path: str, body: dict[str, object]) -> ConversationSummary | None:
    response = await api.authorised("PUT", path, json=body)
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise status_error(api.server, response)
    return body_of(api.server, response, SUMMARY, f"PUT {path}")


class ConversationExtensions:
    """RemoteBackend's extension methods (a mixin: RemoteBackend gives what is declared here)."""

    api: ServerApi
    server: str
    model: str
    _conversations: dict[int, Conversation]
    _history: dict[int, list[Message]]
    named_extensions: set[str]
    import_left_out: dict[str, int] = {}

    @staticmethod
    def _conversation(item: ConversationSummary) -> Conversation:  # RemoteBackend's
        raise NotImplementedError

    def _cached(self, summary: ConversationSummary | None) -> Conversation | None:
        if summary is None:
            return None
        conversation = self._conversation(summary)
        self._conversations[conversation.id] = conversation
        return conversation

    async def set_pinned(self, conversation_id: int, pinned: bool) -> Conversation | None:
        """Extension "pin"."""
        return self._cached(await _put(self.api, f"/conversations/{conversation_id}/pin", {"pinned": pinned}))

    async def set_conversation_options(
        self, conversation_id: int, *, model: str | None, system_prompt: str | None
    ) -> Conversation | None:
        """Extension "conversation_options": a model the server does not offer is refused (422, saying so)."""
        body: dict[str, object] = {"model": model or None, "system_prompt": system_prompt or None}
        return self._cached(await _put(self.api, f"/conversations/{conversation_id}/options", body))

    async def list_models(self) -> list[str]:
        """Extension "models": the models this server lets a conversation use."""
        if ext.MODELS not in self.named_extensions:
            return [self.model] if self.model else []
        response = await self.api.authorised("GET", "/models")
        if response.status_code != 200:
            raise status_error(self.api.server, response)
        return body_of(self.api.server, response, MODEL_LIST, "GET /models").models

    async def model_catalogue(self) -> list[ProviderModels]:
        """F5's list: the server's models, as one provider."""
        try:
            return [ProviderModels("server", self.server, await self.list_models())]
        except RemoteError as exc:
            return [ProviderModels("server", self.server, [], error=exc.message)]

    @property
    def system_prompt_presets(self) -> dict[str, str]:
        return {}  # the server keeps none; type one

    @property
    def default_system_prompt(self) -> str:
        return "the server's own system prompt"

    async def context_use(self, conversation_id: int) -> ContextUse | None:
        """Extension "tokens": the newest reply with usage, its prompt plus its completion."""
        history = self._history.get(conversation_id)
        if history is None or (bool(history) and history[-1].role == "user"):  # not read since the last reply
            history = await self._load_history(conversation_id)
        for message in reversed(history):
            if message.prompt_tokens is not None:
                return ContextUse(message.prompt_tokens + (message.completion_tokens or 0))
        return None

    async def _load_history(self, conversation_id: int) -> list[Message]:
        raise NotImplementedError  # RemoteBackend's

    async def import_conversations(
        self, records: Sequence[ConversationRecord]
    ) -> tuple[list[Conversation], list[ConversationRecord]]:
        """Extension "archive": the records as codhechat's JSON, all or nothing, on the server."""
        from codhechat.native_format import dump_json

        response = await self.api.authorised("POST", "/import", content=dump_json(records).encode())
        if response.status_code != 200:
            raise status_error(self.api.server, response)
        result = body_of(self.api.server, response, IMPORT_RESULT, "POST /import")
        self.import_left_out = dict(result.left_out)  # what the server could not keep, for `import` to say
        listed = {c.id: c for c in await self.list_conversations(limit=10**9)}
        imported = [listed[i] for i in result.imported if i in listed]
        skipped_titles = set(result.skipped)
        return imported, [r for r in records if r.title in skipped_titles]

    async def list_conversations(self, *, limit: int = 200, offset: int = 0) -> list[Conversation]:
        raise NotImplementedError  # RemoteBackend's
