"""Plain data passed between the store, the backends and the UI.

Dataclasses rather than ORM rows or pydantic models: the UI gets values it
cannot use to reach the database, and importing this module costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeAlias

Role = Literal["system", "user", "assistant", "tool"]

TITLE_LIMIT = 60


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"  # streaming, stopped by the user, or cut off by a crash
    ERROR = "error"  # the model failed; `content` holds what arrived before


@dataclass(frozen=True, slots=True)
class Generation:
    """A conversation's generation parameters; None leaves each to the endpoint."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    reasoning_effort: str | None = None  # low, medium, high: for models that take it

    def options(self) -> dict[str, float | int | str]:
        """The request fields to send: only those set."""
        return {k: v for k, v in self.as_dict().items() if v is not None}

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def parse(cls, data: object) -> Generation:
        """From stored or imported JSON; anything of the wrong type is left out."""
        if not isinstance(data, dict):
            return cls()
        kinds = {"temperature": (int, float), "top_p": (int, float), "max_tokens": (int,), "seed": (int,),
                 "reasoning_effort": (str,)}  # fmt: skip
        values = {k: data[k] for k, types in kinds.items()
                  if isinstance(data.get(k), types) and not isinstance(data.get(k), bool)}  # fmt: skip
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    model: str | None = None
    pinned_at: datetime | None = None  # pinned conversations head the list, latest pin first
    system_prompt: str | None = None  # None: the configured one
    generation: Generation = Generation()
    tools_off: frozenset[str] = frozenset()  # tools (or MCP servers) not offered in it
    current_leaf: int | None = None  # the last message of the path shown (and sent as history)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message, as stored: its bytes are kept once, by SHA-256."""

    name: str
    mime: str
    kind: str  # "text", "image" or "pdf"
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class AttachedFile:
    """An attachment with its bytes: to store, to send (attachments.content_part), to export."""

    attachment: Attachment
    data: bytes


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to run a tool: its call id, the function name offered to the
    model, and the arguments exactly as the model wrote them (JSON text, maybe invalid)."""

    id: str
    name: str
    arguments: str

    def as_openai(self) -> dict[str, object]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: int
    role: Role
    content: str
    created_at: datetime
    status: MessageStatus = MessageStatus.COMPLETE
    model: str | None = None
    error: str | None = None
    # Token counts, when the endpoint reported them (an assistant reply only).
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None  # see FinishReason: why a reply ended
    reasoning: str | None = None  # a reasoning model's thinking (never sent back as history)
    thinking_ms: int | None = None  # how long it thought before answering
    elapsed_ms: int | None = None  # from the request to the reply's end
    attachments: tuple[Attachment, ...] = ()  # files sent with it (a user message)
    tool_calls: tuple[ToolCall, ...] = ()  # the tools an assistant message asked to run
    tool_call_id: str | None = None  # a `tool` message: the call it answers
    tool_name: str | None = None  # a `tool` message: the tool that ran (or was refused)
    # Conversations are trees: an edit or a regenerated reply is a sibling of what it
    # replaces. `parent_id` is the message this one follows (None: a first message);
    # `siblings`, when it has any, the ids of it and its alternatives, oldest first.
    parent_id: int | None = None
    siblings: tuple[int, ...] = ()
    current_child: int | None = None  # the version after it the path last took (None: the newest)

    @property
    def branch(self) -> tuple[int, int] | None:
        """(its position among its alternatives from 1, how many there are), if it has any."""
        return (self.siblings.index(self.id) + 1, len(self.siblings)) if self.id in self.siblings else None


class FinishReason(StrEnum):
    """Why a reply ended. The first four are the endpoint's own words; the rest are ours."""

    STOP = "stop"
    LENGTH = "length"  # the max_tokens limit (or the context) cut it: Continue asks for more
    CONTENT_FILTER = "content_filter"
    TOOL_CALLS = "tool_calls"
    CUT = "cut"  # the stream ended without the model saying it was finished
    STOPPED = "stopped"  # by the user (Esc, Ctrl+C) or the app shutting down


@dataclass(frozen=True, slots=True)
class ProviderModels:
    """One provider's models as `codhechat models` and F5 list them, or why it has none."""

    provider: str
    endpoint: str
    models: list[str]  # full names: NAME/MODEL (bare for the default provider)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ContextUse:
    """How full the model's context is: the last reply's prompt plus the reply itself (so
    about what the next prompt starts from), against the context window when known."""

    tokens: int
    window: int | None = None

    def describe(self) -> str:
        if self.window:
            return f"context {self.tokens:,}/{self.window:,} tokens ({self.tokens / self.window:.0%})"
        return f"context {self.tokens:,} tokens"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One message matching a search, with the text around the match."""

    message_id: int
    conversation_id: int
    title: str
    role: Role
    created_at: datetime
    snippet: str  # matches wrapped in SNIPPET_START / SNIPPET_END


SNIPPET_START, SNIPPET_END = "\x02", "\x03"  # control characters no message text uses


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """A search snippet on one line, as (text, is a match) runs, markers taken out."""
    parts: list[tuple[str, bool]] = []
    rest = " ".join(snippet.split())
    while SNIPPET_START in rest:
        before, _, rest = rest.partition(SNIPPET_START)
        match, _, rest = rest.partition(SNIPPET_END)
        parts += [(before, False), (match, True)]
    parts.append((rest, False))
    return [(text, hit) for text, hit in parts if text]


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A message as exported and imported: no ids, timestamps as ISO 8601 text."""

    role: Role
    content: str
    created_at: str
    status: MessageStatus = MessageStatus.COMPLETE
    model: str | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    reasoning: str | None = None
    thinking_ms: int | None = None
    elapsed_ms: int | None = None
    attachments: tuple[AttachedFile, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None
    # The index, among its conversation's messages, of the one it follows; None: it is a
    # first message (or an edit of one); PREVIOUS: the message before it (no branches).
    parent: int | None = -1
    next: int | None = None  # the index of the version after it the path last took (None: the newest)


PREVIOUS = -1  # MessageRecord.parent: the message before it


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """A whole conversation as exported and imported: everything the store keeps but ids."""

    title: str
    created_at: str
    updated_at: str
    model: str | None = None
    messages: list[MessageRecord] = field(default_factory=list)
    pinned_at: str | None = None
    system_prompt: str | None = None
    generation: dict[str, float | int | str] | None = None  # as Generation.options()
    current: int | None = None  # the index of the last message of the path shown; None: the last message


def title_for(prompt: str) -> str:
    """Name a conversation after its first message, as CoDHeChat servers do."""
    text = " ".join(prompt.split())
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 3] + "..."


# Events of one reply, yielded by ChatBackend.stream_reply.


@dataclass(frozen=True, slots=True)
class ReplyStarted:
    """The prompt is stored; `conversation` may be new."""

    conversation: Conversation
    user_message: Message | None  # None when retrying an existing prompt


@dataclass(frozen=True, slots=True)
class ReplyPrompt:
    """What is being sent: `left_out` earlier messages did not fit the context `window`."""

    left_out: int
    estimated_tokens: int
    window: int | None


@dataclass(frozen=True, slots=True)
class ReplyDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReplyThinking:
    """A piece of the model's reasoning, before (or beside) its answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ReplyDone:
    message: Message


@dataclass(frozen=True, slots=True)
class ReplyFailed:
    """Generation failed; `message` is the stored assistant message with what arrived."""

    error: Exception
    message: Message | None


ToolDecision = Literal["once", "always", "deny"]


class ToolApproval:
    """The user's answer to one tool call, awaited by the turn: `decide` it (the app's
    buttons, `ask`'s flags). `needed` is False when the config or an earlier "always"
    allowed the tool: the call runs without asking."""

    __slots__ = ("_answer", "needed")

    def __init__(self, *, needed: bool) -> None:
        import asyncio

        self.needed = needed
        self._answer: asyncio.Future[ToolDecision] = asyncio.get_running_loop().create_future()
        if not needed:
            self._answer.set_result("once")

    def decide(self, decision: ToolDecision) -> None:
        if not self._answer.done():
            self._answer.set_result(decision)

    async def wait(self) -> ToolDecision:
        return await self._answer


@dataclass(frozen=True, slots=True)
class ReplyToolCall:
    """The model asked to run a tool. `reply` is the stored assistant message of this
    round (its text is done); the turn waits for `approval` before going on."""

    call: ToolCall
    reply: Message
    server: str  # the MCP server the tool belongs to ("" when no server has it)
    approval: ToolApproval


@dataclass(frozen=True, slots=True)
class ReplyToolResult:
    """A tool call's outcome (or its refusal), stored as a `tool` message and sent back."""

    call: ToolCall
    message: Message
    failed: bool  # the tool failed, was refused, or its server is gone


@dataclass(frozen=True, slots=True)
class ReplyNotice:
    """Something to tell the user once, in passing (an MCP server that would not start)."""

    text: str


ReplyEvent: TypeAlias = (
    ReplyStarted
    | ReplyPrompt
    | ReplyThinking
    | ReplyDelta
    | ReplyDone
    | ReplyFailed
    | ReplyToolCall
    | ReplyToolResult
    | ReplyNotice
)


# The link to a server (remote mode), as the status line shows it.

ConnectionStatus = Literal["connecting", "connected", "reconnecting", "offline"]


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """Where a remote backend's link stands; published to listeners on every change.

    `retry_at` is a `time.monotonic()` deadline while reconnecting; `detail` says why the
    link is down; `notice` is set on a one-off copy for something the user should see
    (a frame the server should not have sent), never on the stored state.
    """

    status: ConnectionStatus
    retry_at: float | None = None
    detail: str = ""
    notice: str = ""
    signed_out: bool = False  # offline because the server refuses the sign-in for good

    def describe(self, now: float) -> str:
        if self.status == "connected":
            return "● connected"
        if self.status == "reconnecting":
            wait = max(0, math.ceil((self.retry_at or now) - now))
            return f"↻ reconnecting in {wait}s" if wait else "↻ reconnecting…"
        if self.status == "offline":
            return "○ signed out: Ctrl+P, “Sign in…”" if self.signed_out else "○ offline"
        return "… connecting"
