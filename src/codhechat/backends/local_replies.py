"""Where local mode keeps replies: the turn engine's ReplyStore over the SQLite Store.

Every call runs in a worker thread, so the UI never waits on the disk. When the disk is
full, the ending of a reply (its whole text, status, usage) is kept in memory and written
by the next write that succeeds, or on exit: the reply the user saw is saved whole once
there is room, not just the part that fitted.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from codhechat.errors import StorageError
from codhechat.models import Message, MessageStatus, ToolCall
from codhechat.store import Store
from codhechat.turn import Ending


class LocalReplies:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.unsaved: dict[int, Ending] = {}  # replies whose ending did not fit on the disk

    async def read(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """A store read, off the event loop."""
        return await asyncio.to_thread(partial(func, *args, **kwargs))

    async def write(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """A store write, off the event loop, after any endings still waiting for room."""
        return await asyncio.to_thread(partial(self._flushed_then, func, *args, **kwargs))

    def _flushed_then(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        self.flush()
        return func(*args, **kwargs)

    def flush(self) -> None:
        for message_id, ending in list(self.unsaved.items()):
            try:
                self._store_ending(ending)
            except StorageError:
                return  # still no room: try again on the next write
            self.unsaved.pop(message_id, None)

    def _store_ending(self, ending: Ending) -> Message:
        return self.store.update_message(
            ending.message_id, content=ending.content, status=ending.status, error=ending.error,
            usage=ending.usage, finish_reason=ending.finish_reason, model=ending.model,
            reasoning=ending.reasoning, thinking_ms=ending.thinking_ms, elapsed_ms=ending.elapsed_ms,
            tool_calls=ending.tool_calls,
        )  # fmt: skip

    # The turn engine's ReplyStore

    async def start_reply(self, conversation_id: int, *, model: str) -> int:
        message = await self.write(
            self.store.add_message, conversation_id, "assistant", "", status=MessageStatus.PARTIAL, model=model
        )
        return int(message.id)

    async def save_progress(self, message_id: int, content: str) -> None:
        await self.read(self.store.save_progress, message_id, content)

    async def end_reply(self, ending: Ending) -> Message:
        try:
            return await self.write(self._store_ending, ending)
        except StorageError:
            self.unsaved[ending.message_id] = ending
            raise

    def end_reply_now(self, ending: Ending) -> None:
        try:
            self.flush()
            self._store_ending(ending)
        except StorageError:
            self.unsaved[ending.message_id] = ending

    async def discard_reply(self, message_id: int) -> None:
        self.unsaved.pop(message_id, None)
        await self.write(self.store.delete_message, message_id)

    async def add_tool_result(self, conversation_id: int, call: ToolCall, text: str, *, failed: bool) -> Message:
        return await self.write(
            self.store.add_message, conversation_id, "tool", text, tool_call_id=call.id, tool_name=call.name,
            error=text if failed else None,
        )  # fmt: skip
