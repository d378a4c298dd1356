"""Local mode: conversations in SQLite, replies from an OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from codhechat.backends import (
    CONVERSATION_OPTIONS,
    DELETE,
    EDIT,
    PIN,
    REGENERATE,
    RENAME,
    SEARCH,
    TOKENS,
)
from codhechat.config import Settings
from codhechat.errors import CodheError, StorageError
from codhechat.llm import ModelClient, StreamOutcome
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
    title_for,
)
from codhechat.store import Store

SAVE_INTERVAL_S = 1.0  # how often a streaming reply is written: crash safety without per-token writes

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Ending:
    """How a reply ended, to be stored: its whole text, status, error and token usage."""

    message_id: int
    content: str
    status: MessageStatus
    error: str | None
    usage: tuple[int, int] | None = None

    def write(self, store: Store) -> Message:
        return store.update_message(
            self.message_id, content=self.content, status=self.status, error=self.error, usage=self.usage
        )


class LocalBackend:
    mode = "local"
    capabilities = frozenset(
        {RENAME, DELETE, PIN, SEARCH, REGENERATE, CONVERSATION_OPTIONS, EDIT, TOKENS}
    )

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: ModelClient | None = None,
        *,
        conversation_options: bool = True,
    ) -> None:
        """`conversation_options=False` ignores a conversation's own model and system
        prompt, so the settings given (`codhechat ask --model/--system`) always apply."""
        self.settings = settings
        self.store = store
        self.conversation_options = conversation_options
        self.model = settings.model
        self._unsaved: dict[int, _Ending] = {}  # replies whose ending did not fit on the disk
        self.client = client or ModelClient(
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            base_url=settings.base_url,
            timeout=settings.request_timeout,
            max_retries=settings.max_retries,
        )

    async def _db(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a store call off the event loop so the UI never waits on the disk."""
        return await asyncio.to_thread(partial(func, *args, **kwargs))

    async def list_conversations(self, *, limit: int = 200, offset: int = 0) -> list[Conversation]:
        return await self._db(self.store.list_conversations, limit=limit, offset=offset)

    async def get_messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        return await self._db(
            self.store.get_messages, conversation_id, before=before, after=after, limit=limit
        )

    async def rename_conversation(self, conversation_id: int, title: str) -> Conversation | None:
        return await self._write(self.store.rename_conversation, conversation_id, title)

    async def delete_conversation(self, conversation_id: int) -> int | None:
        return await self._write(self.store.delete_conversation, conversation_id)

    async def set_pinned(self, conversation_id: int, pinned: bool) -> Conversation | None:
        return await self._write(self.store.set_pinned, conversation_id, pinned)

    @property
    def system_prompt_presets(self) -> dict[str, str]:
        return dict(self.settings.presets)

    @property
    def default_system_prompt(self) -> str:
        return self.settings.system_prompt

    async def list_models(self) -> list[str]:
        return await self.client.list_models()

    async def set_conversation_options(
        self, conversation_id: int, *, model: str | None, system_prompt: str | None
    ) -> Conversation | None:
        return await self._write(self.store.set_conversation_options,
            conversation_id,
            model=model or None,
            system_prompt=system_prompt or None,
        )

    async def conversation_tokens(self, conversation_id: int) -> int | None:
        return await self._db(self.store.conversation_tokens, conversation_id)

    async def edit_and_resend(
        self, conversation_id: int, message_id: int, content: str
    ) -> AsyncIterator[ReplyEvent]:
        content = content.strip()
        if not content:
            raise ValueError("empty message")
        conversation = await self._db(self.store.get_conversation, conversation_id)
        if conversation is None:
            raise StorageError("That conversation no longer exists.")
        message, _ = await self._write(self.store.edit_message, conversation_id, message_id, content)
        yield ReplyStarted(conversation, message)
        async for event in self._generate(conversation):
            yield event

    async def search(self, query: str, *, limit: int = 30) -> list[SearchHit]:
        return await self._db(self.store.search, query, limit=limit)

    async def stream_reply(
        self, conversation_id: int | None, prompt: str
    ) -> AsyncIterator[ReplyEvent]:
        prompt = prompt.strip()
        if not prompt:
            raise ValueError("empty prompt")
        conversation = None
        if conversation_id is not None:
            conversation = await self._db(self.store.get_conversation, conversation_id)
        if conversation is None:
            conversation = await self._write(self.store.create_conversation, title_for(prompt), model=self.model
            )
        user_message = await self._write(self.store.add_message, conversation.id, "user", prompt)
        yield ReplyStarted(conversation, user_message)
        async for event in self._generate(conversation):
            yield event

    async def retry_reply(self, conversation_id: int) -> AsyncIterator[ReplyEvent]:
        conversation = await self._db(self.store.get_conversation, conversation_id)
        if conversation is None:
            raise StorageError("That conversation no longer exists.")
        last = await self._db(self.store.get_messages, conversation_id, limit=1)
        if last and last[0].role == "assistant":
            if last[0].status == MessageStatus.COMPLETE:
                return  # nothing to retry
            self._unsaved.pop(last[0].id, None)
            await self._write(self.store.delete_message, last[0].id)
        yield ReplyStarted(conversation, None)
        async for event in self._generate(conversation):
            yield event

    async def regenerate_reply(self, conversation_id: int) -> AsyncIterator[ReplyEvent]:
        conversation = await self._db(self.store.get_conversation, conversation_id)
        if conversation is None:
            raise StorageError("That conversation no longer exists.")
        last = await self._db(self.store.get_messages, conversation_id, limit=1)
        if not last:
            return  # nothing to answer
        if last[0].role == "assistant":
            self._unsaved.pop(last[0].id, None)
            await self._write(self.store.delete_message, last[0].id)
        yield ReplyStarted(conversation, None)
        async for event in self._generate(conversation):
            yield event

    async def _generate(self, conversation: Conversation) -> AsyncIterator[ReplyEvent]:
        history = await self._db(self.store.history, conversation.id, self.settings.history_window)
        # The conversation's own model and system prompt, else the configured ones.
        model, system_prompt = self.model, self.settings.system_prompt
        if self.conversation_options:
            model = conversation.model or model
            system_prompt = conversation.system_prompt or system_prompt
        messages = [{"role": "system", "content": system_prompt}]
        messages += [{"role": m.role, "content": m.content} for m in history]
        reply = await self._write(
            self.store.add_message,
            conversation.id,
            "assistant",
            "",
            status=MessageStatus.PARTIAL,
            model=model,
        )
        parts: list[str] = []
        outcome = StreamOutcome()
        finished = False
        last_save = time.monotonic()
        try:
            try:
                async for text in self.client.stream_chat(messages, model=model, outcome=outcome, usage=True):
                    parts.append(text)
                    yield ReplyDelta(text)
                    if time.monotonic() - last_save >= SAVE_INTERVAL_S:
                        last_save = time.monotonic()
                        await self._save_progress(reply.id, "".join(parts))
            except CodheError as exc:
                finished = True
                ending = _Ending(reply.id, "".join(parts), MessageStatus.ERROR, exc.message)
                try:
                    stored: Message | None = await self._end(ending)
                except StorageError:
                    stored = None
                yield ReplyFailed(exc, stored)
                return
            finished = True
            try:
                done = await self._end(_Ending(reply.id, "".join(parts), MessageStatus.COMPLETE, None, outcome.usage))
            except StorageError as exc:
                yield ReplyFailed(exc, None)
                return
            yield ReplyDone(done)
        finally:
            if not finished:
                # Stopped, cancelled or shutting down: keep what arrived, synchronously,
                # because the event loop may not run another step for us.
                ending = _Ending(reply.id, "".join(parts), MessageStatus.PARTIAL, None)
                try:
                    self._flush_unsaved()
                    ending.write(self.store)
                except StorageError:
                    self._unsaved[reply.id] = ending

    async def _save_progress(self, message_id: int, content: str) -> None:
        """A failed intermediate save must not kill the stream; the final one reports."""
        try:
            await self._db(self.store.save_progress, message_id, content)
        except StorageError:
            pass

    async def _end(self, ending: _Ending) -> Message:
        """Store how a reply ended. If the disk is full, the ending is kept in memory and
        written by the next write that succeeds (or on exit), so the whole reply the user
        saw is saved once there is room, not just what fitted."""
        try:
            return await self._write(ending.write, self.store)
        except StorageError:
            self._unsaved[ending.message_id] = ending
            raise

    async def _write(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """A store write, after any endings still waiting for room on the disk."""
        return await self._db(self._flushed_then, func, *args, **kwargs)

    def _flushed_then(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        self._flush_unsaved()
        return func(*args, **kwargs)

    def _flush_unsaved(self) -> None:
        for message_id, ending in list(self._unsaved.items()):
            try:
                ending.write(self.store)
            except StorageError:
                return  # still no room: try again on the next write
            self._unsaved.pop(message_id, None)

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.client.warm_up)

    def watch_connection(self, listener: Callable[[ConnectionState], None]) -> Callable[[], None]:
        """Nothing to watch: the conversations are on this machine, always there."""
        return lambda: None

    def set_api_key(self, api_key: str) -> None:
        self.client = ModelClient(
            api_key=api_key,
            base_url=self.client.base_url,
            timeout=self.client.timeout,
            max_retries=self.client.max_retries,
        )

    async def aclose(self) -> None:
        await self.client.aclose()
        await self._db(self._flush_unsaved)
        await self._db(self.store.close)
