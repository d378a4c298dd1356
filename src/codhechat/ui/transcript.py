"""What the chat session holds of the open conversation: its window of entries (stored
messages, prompts just sent, replies generated in this run), and how long a window gets.
Plain data, no Textual: the session decides from it, the message views render it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from codhechat.models import AttachedFile, Attachment, Message, MessageStatus, ToolApproval, ToolCall

PAGE = 40  # messages loaded per page
MAX_WINDOW = 160  # messages kept in the window (and so mounted) at most, however long the conversation


def usage_of(message: Message) -> tuple[int, int] | None:
    """(prompt, completion) tokens, when the endpoint reported them."""
    if message.prompt_tokens is None or message.completion_tokens is None:
        return None
    return (message.prompt_tokens, message.completion_tokens)


@dataclass(eq=False)
class SentPrompt:
    """A prompt as the user sent it: shown at once, before (or without) its stored copy."""

    text: str
    attachments: tuple[Attachment, ...] = ()
    stored: Message | None = None  # its stored copy, once the backend says (an edit's branch position)
    images: tuple[AttachedFile, ...] = ()  # its attached images with their bytes (for thumbnails)


class Cancellable(Protocol):
    """What runs a reply (a Textual worker): it can be cancelled and waited for."""

    def cancel(self) -> None: ...

    async def wait(self) -> Any: ...


@dataclass(eq=False)
class LiveReply:
    """A reply generated in this run, from its first event to its end (and after, while shown)."""

    conversation_id: int | None  # None until the backend names a new conversation
    model: str
    parts: list[str] = field(default_factory=list)
    status: MessageStatus | None = None  # None while it is being generated
    error: str = ""  # what went wrong, if it did
    hint: str = ""  # and what to do about it
    usage: tuple[int, int] | None = None
    task: Cancellable | None = None
    thinking: list[str] = field(default_factory=list)  # a reasoning model's thinking, apart
    finish_reason: str | None = None  # why it ended (codhechat.models.FinishReason), when it did
    thinking_ms: int | None = None
    elapsed_ms: int | None = None
    left_out: int = 0  # earlier messages that did not fit the context window
    window: int | None = None  # the model's context, when known
    replaces: Entry | None = None  # a reply this one takes the place of, once it has text
    stored: Message | None = None  # its stored copy, once it ended (a regenerated reply's branch position)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def notice(self) -> str:
        """What went wrong, then what to do on a line of its own (run together, "... 401
        Check OPENAI_API_KEY" read as one sentence)."""
        return "\n".join(part for part in (self.error.strip(), self.hint.strip()) if part)


@dataclass(eq=False)
class LiveTool:
    """A tool call made in this run: asked about (while `approval` waits), then its result."""

    call: ToolCall
    server: str
    conversation_id: int | None = None
    approval: ToolApproval | None = None  # None once decided, or when no one need ask
    result: str | None = None  # what it gave (or why it did not run), once it did
    failed: bool = False
    stopped: bool = False  # the turn was stopped before it had a result
    on_change: Callable[[], None] | None = None  # its view's refresh, while it is shown

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


@dataclass(eq=False)
class LiveNotice:
    """Something said once in passing, under the replies (an MCP server that is down)."""

    text: str


Entry: TypeAlias = Message | SentPrompt | LiveReply | LiveTool | LiveNotice


def stored_of(entry: Entry) -> Message | None:
    """An entry's stored message, once there is one (a tool call or a notice has none)."""
    if isinstance(entry, Message):
        return entry
    return entry.stored if isinstance(entry, SentPrompt | LiveReply) else None


Page: TypeAlias = tuple[list[Message], int]  # messages loaded, and how many entries were dropped at the far end


@dataclass
class Window:
    """The part of the open conversation that is loaded (and shown), oldest first."""

    entries: list[Entry] = field(default_factory=list)
    has_older: bool = False
    has_newer: bool = False
    found: int | None = None  # a message to show the user (a search result, a branch switched to), once
    mark: str = "found"  # the class it gets: "found" (a search result), "branch-focus" (what the branch keys switch)

    def stored(self) -> list[Message]:
        return [e for e in self.entries if isinstance(e, Message)]
