"""The CoDHeChat wire protocol, as data: frames, REST bodies, close codes and limits.

Pydantic models and constants, no I/O: the client (backends/remote), the server
(`codhechat serve`) and the tests' classic server import them instead of agreeing on
string literals. The contract is the classic CoDHeChat protocol, which existing servers
and browser clients speak; docs/protocol.md gives it with codhechat serve's extensions,
each opt-in.

- `frames`: what goes over /ws, `parse_frame()` for server frames;
- `rest`: request and response bodies of the REST routes;
- `limits`: close codes (1008, 1013), the 5,000-character message, page size, fixed texts.

How a classic server differs from codhechat serve, the one place this is written down
(a client must handle both, and cannot ask which it talks to):

- Chunks carry the WHOLE reply so far in `content` (`ContentChunk`); a socket opened with
  `?stream=delta` on codhechat serve gets only the new text in `delta` (`DeltaChunk`).
  A classic server ignores the query parameter.
- No `started` frame (so the prompt's message id is unknown), no `cancel`/`cancelled`,
  and `complete` carries no `messageId` or `status`.
- Error frames carry no `conversationId`: when a reply for a NEW conversation fails,
  the client must find the conversation the server made (it is named after the prompt).
- The token is read only from `?token=` on /ws; an `Authorization` header on the
  handshake is ignored, so a client that sends only the header is closed with 1008.
- No /auth/refresh (a guest's identity ends with its token), no `include_messages`,
  `X-Total-Count` or `before=` on lists, no message `status`, no rename or delete.
  Conversations may be listed in any order: clients sort them.
"""

from codhechat.protocol.frames import (
    SERVER_FRAME,
    CancelFrame,
    CancelledFrame,
    ChatFrame,
    CompleteFrame,
    ContentChunk,
    DeltaChunk,
    ErrorFrame,
    FrameError,
    ServerFrame,
    StartedFrame,
    parse_frame,
)
from codhechat.protocol.limits import (
    CONVERSATION_NOT_FOUND,
    INVALID_PAYLOAD,
    MAX_CLIENT_FRAME_BYTES,
    MAX_MESSAGE_CHARS,
    MAX_REQUEST_ID_CHARS,
    PAGE_LIMIT,
    POLICY_VIOLATION,
    STREAM_DELTA,
    STREAM_PARAM,
    TITLE_CHARS,
    TRY_AGAIN_LATER,
)

__all__ = [
    "CONVERSATION_NOT_FOUND",
    "INVALID_PAYLOAD",
    "MAX_CLIENT_FRAME_BYTES",
    "MAX_MESSAGE_CHARS",
    "MAX_REQUEST_ID_CHARS",
    "PAGE_LIMIT",
    "POLICY_VIOLATION",
    "SERVER_FRAME",
    "STREAM_DELTA",
    "STREAM_PARAM",
    "TITLE_CHARS",
    "TRY_AGAIN_LATER",
    "CancelFrame",
    "CancelledFrame",
    "ChatFrame",
    "CompleteFrame",
    "ContentChunk",
    "DeltaChunk",
    "ErrorFrame",
    "FrameError",
    "ServerFrame",
    "StartedFrame",
    "parse_frame",
]
