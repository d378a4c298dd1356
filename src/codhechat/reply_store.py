"""Where a turn keeps its reply: the persistence interface of the turn engine
(codhechat.turn), implemented by the local Store (backends/local_replies.py) and by the
server's database. Apart from the engine so that the tool rounds (codhechat.tool_rounds)
can name it without importing the engine that runs them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from codhechat.models import Message, MessageStatus, ToolCall


@dataclass(frozen=True, slots=True)
class Ending:
    """How a reply ended, to be stored: its whole text, status and why, usage, model."""

    message_id: int
    content: str
    status: MessageStatus
    error: str | None = None
    usage: tuple[int, int] | None = None
    finish_reason: str | None = None
    model: str | None = None
    reasoning: str | None = None
    thinking_ms: int | None = None
    elapsed_ms: int | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # the tools the model asked to run


class ReplyStore(Protocol):
    """Where a turn keeps its reply (the local Store; the server's database)."""

    async def start_reply(self, conversation_id: int, *, model: str) -> int:
        """Store an empty, partial assistant message; returns its id."""
        ...

    async def save_progress(self, message_id: int, content: str) -> None:
        """Store the text so far; never shrinks it (a late save cannot undo a newer one)."""
        ...

    async def end_reply(self, ending: Ending) -> Message:
        """Store how the reply ended (raises StorageError if it cannot)."""
        ...

    def end_reply_now(self, ending: Ending) -> None:
        """The same, without waiting: the turn was cancelled and the event loop may not
        run another step for it (the app is quitting)."""
        ...

    async def discard_reply(self, message_id: int) -> None:
        """Delete a reply: the one a retry replaces, once the retry has text of its own."""
        ...


class ToolReplyStore(ReplyStore, Protocol):
    """A ReplyStore whose turns are given tools (local mode's): it keeps their results too."""

    async def add_tool_result(self, conversation_id: int, call: ToolCall, text: str, *, failed: bool) -> Message:
        """Store a `tool` message: what a call gave (or why it did not run)."""
        ...
