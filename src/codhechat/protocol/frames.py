"""The /ws frames: what a client sends, what a server answers, and `parse_frame()`.

Server frames are one discriminated union on `type`; a `chunk` is a `DeltaChunk` when
it has a `delta` key (the extension) and a `ContentChunk` otherwise (the whole reply so
far, as classic servers send it). Fields are snake_case here and camelCase on the wire
(`requestId`), as the classic protocol has them; client frames are snake_case on the
wire too (`request_id`).

Validation is strict (an id is a JSON integer, not "7", 7.0 or true) and extra keys are
ignored, so a server may add fields. Every frame a client reads comes from the network:
`parse_frame()` either returns a frame of one of these shapes or raises `FrameError`,
nothing else, whatever the text (tests/protocol holds a property test of that). The
client reads one frame per token, so the union's validator is built once, at import,
and reads the JSON itself (bench/frame_parsing.py measures it).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from codhechat.protocol.limits import MAX_REQUEST_ID_CHARS

# -- client -> server ------------------------------------------------------------------


class _ClientFrame(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)

    def encode(self) -> str:
        """The JSON text to send: every field, `null`s included (the protocol spells them out)."""
        return self.model_dump_json()


class ChatFrame(_ClientFrame):
    """Ask for a reply: `{"request_id", "message", "conversation_id"}` (no `type`: the
    classic frame has none; codhechat serve reads a missing `type` as "chat").

    `message` is trimmed by the server; empty or longer than MAX_MESSAGE_CHARS is invalid
    (the server checks against its own limit, so the model does not). `conversation_id`
    null starts a new conversation, named after the message.
    """

    request_id: str = Field(min_length=1, max_length=MAX_REQUEST_ID_CHARS)
    message: str
    conversation_id: int | None = None


class CancelFrame(_ClientFrame):
    """Extension: stop a reply, keeping what arrived (`cancelled` answers it). A classic
    server has no cancel: send it only on a socket that sent `started`."""

    type: Literal["cancel"] = "cancel"
    request_id: str = Field(min_length=1, max_length=MAX_REQUEST_ID_CHARS)


# -- server -> client ------------------------------------------------------------------


class _ServerFrame(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, populate_by_name=True)

    type: str  # each frame narrows it to its Literal, the union's discriminator

    def encode(self) -> str:
        """The JSON text to send: `type` and the fields that were given, by their wire names.

        Only given fields, so a legacy frame keeps exactly its legacy keys (a classic
        `complete` has no `messageId`), while a given null (`cancelled` with nothing
        stored) is still sent.
        """
        body = {"type": self.type} | self.model_dump(by_alias=True, exclude_unset=True)
        return _dumps(body)


def _dumps(body: dict[str, Any]) -> str:
    """JSON text, by orjson when it is installed (the server extra has it: a server
    encodes a frame per chunk, and orjson takes a tenth of json's time), else by json.
    The same JSON either way, up to whitespace."""
    global _orjson
    if _orjson is None:
        try:
            import orjson
        except ImportError:
            _orjson = False
        else:
            _orjson = orjson
    if _orjson is not False:
        try:
            return str(_orjson.dumps(body).decode())
        except TypeError:  # a lone surrogate, which orjson refuses: json writes it as before
            pass
    return json.dumps(body, ensure_ascii=False)


_orjson: Any = None  # the orjson module, False without it, None until the first frame


class StartedFrame(_ServerFrame):
    """Extension (delta sockets only): the prompt is stored; names the conversation first."""

    type: Literal["started"] = "started"
    request_id: str = Field(alias="requestId")
    conversation_id: int = Field(alias="conversationId")
    user_message_id: int | None = Field(default=None, alias="userMessageId")


class ContentChunk(_ServerFrame):
    """Classic: `content` is the WHOLE reply so far, not the new piece."""

    type: Literal["chunk"] = "chunk"
    request_id: str = Field(alias="requestId")
    conversation_id: int = Field(alias="conversationId")
    content: str


class DeltaChunk(_ServerFrame):
    """Extension (`?stream=delta`): `delta` is only the new text; the reply is their concatenation."""

    type: Literal["chunk"] = "chunk"
    request_id: str = Field(alias="requestId")
    conversation_id: int = Field(alias="conversationId")
    delta: str


class CompleteFrame(_ServerFrame):
    """The reply is stored. `messageId` and `status` are extensions (delta sockets)."""

    type: Literal["complete"] = "complete"
    request_id: str = Field(alias="requestId")
    conversation_id: int = Field(alias="conversationId")
    message_id: int | None = Field(default=None, alias="messageId")
    status: str | None = None
    # Extension "tokens" (delta sockets only): the model's usage, and which model replied.
    prompt_tokens: int | None = Field(default=None, alias="promptTokens")
    completion_tokens: int | None = Field(default=None, alias="completionTokens")
    model: str | None = None


class ErrorFrame(_ServerFrame):
    """A request failed, or (no `requestId`) a client frame could not be read.

    Classic error frames name no conversation; on a delta socket a failed reply's frame
    also carries `conversationId` and `messageId`, and an unreadable frame's a `reason`.
    """

    type: Literal["error"] = "error"
    request_id: str | None = Field(default=None, alias="requestId")
    detail: str = ""
    reason: str | None = None
    conversation_id: int | None = Field(default=None, alias="conversationId")
    message_id: int | None = Field(default=None, alias="messageId")


class CancelledFrame(_ServerFrame):
    """Extension: answers `cancel`; the partial reply is stored (`messageId` null if none)."""

    type: Literal["cancelled"] = "cancelled"
    request_id: str = Field(alias="requestId")
    conversation_id: int | None = Field(default=None, alias="conversationId")
    message_id: int | None = Field(default=None, alias="messageId")


def _chunk_kind(value: Any) -> str:
    return "delta" if (isinstance(value, dict) and "delta" in value) or isinstance(value, DeltaChunk) else "content"


Chunk = Annotated[
    Annotated[DeltaChunk, Tag("delta")] | Annotated[ContentChunk, Tag("content")], Discriminator(_chunk_kind)
]
ServerFrame = Annotated[StartedFrame | Chunk | CompleteFrame | ErrorFrame | CancelledFrame, Field(discriminator="type")]
SERVER_FRAME: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)
FRAME_TYPES = ("started", "chunk", "complete", "error", "cancelled")


class FrameError(ValueError):
    """A server frame that is not of the protocol.

    `reason` says what is wrong in words safe to show (server text only as a short
    repr). `request_id` is set when the frame was an object with a string `type` and a
    string `requestId`, so a client can end that request clearly instead of guessing.
    """

    def __init__(self, reason: str, *, not_json: bool = False, request_id: str | None = None,
                 frame_type: str | None = None) -> None:  # fmt: skip
        super().__init__(reason)
        self.reason = reason
        self.not_json = not_json
        self.request_id = request_id
        self.frame_type = frame_type


def parse_frame(raw: str | bytes) -> ServerFrame:
    """The frame `raw` holds, or FrameError (never another exception, whatever `raw` is)."""
    try:
        return SERVER_FRAME.validate_json(raw)
    except (ValidationError, ValueError):  # ValueError: belt and braces for odd input
        raise _explain(raw) from None


class _Envelope(BaseModel):
    """What a frame that failed validation can still tell: its type and request id."""

    type: Any = None
    requestId: Any = None  # the wire name


_ENVELOPE = TypeAdapter(_Envelope)


def _explain(raw: str | bytes) -> FrameError:
    """Why `raw` is not a frame (the slow path: only bad frames come here)."""
    try:
        envelope = _ENVELOPE.validate_json(raw)
    except ValidationError as exc:
        kind = exc.errors(include_url=False, include_input=False)[0]["type"] if exc.error_count() else ""
        if kind == "json_invalid" or kind.startswith("string_"):
            return FrameError("not JSON", not_json=True)
        return FrameError("not a JSON object")
    except ValueError:
        return FrameError("not JSON", not_json=True)
    kind = envelope.type
    if not isinstance(kind, str):
        return FrameError("a frame without a string `type`")
    request_id = envelope.requestId if isinstance(envelope.requestId, str) else None
    shown = repr(kind[:40])
    if kind not in FRAME_TYPES:
        return FrameError(f"a frame of unknown type {shown}", request_id=request_id, frame_type=kind)
    try:
        SERVER_FRAME.validate_json(raw)
    except ValidationError as exc:
        problem = exc.errors(include_url=False, include_input=False)[0]
        field = next((str(part) for part in reversed(problem["loc"]) if isinstance(part, str)), "")
        if kind == "chunk" and field in ("content", "delta"):
            reason = "a chunk without text" if problem["type"] == "missing" else "a chunk whose text is not a string"
        else:
            reason = f"a frame of type {shown}" + (f" ({field}: {problem['msg'].lower()})" if field else "")
        return FrameError(reason, request_id=request_id, frame_type=kind)
    except ValueError:
        pass
    return FrameError(f"a frame of type {shown} that cannot be read", request_id=request_id, frame_type=kind)
