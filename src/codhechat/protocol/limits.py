"""Close codes, limits and the fixed texts both ends of the protocol agree on.

The numbers are the protocol's (../../../docs/protocol.md, "Limits"); `codhechat serve`
takes its own from settings, whose defaults are these. A client must assume them: a
classic server cannot be asked.
"""

from __future__ import annotations

# WebSocket close codes (RFC 6455 section 7.4.1) as the protocol uses them.
POLICY_VIOLATION = 1008  # a missing, invalid or expired token: accepted, then closed
TRY_AGAIN_LATER = 1013  # no model configured, or too many sockets: back off, then retry

MAX_MESSAGE_CHARS = 5000  # a prompt, once trimmed; longer (or empty) is an invalid frame / 422
MAX_REQUEST_ID_CHARS = 200  # codhechat serve refuses longer request ids
MAX_CLIENT_FRAME_BYTES = 64 * 1024  # the largest client frame codhechat serve handles by default
PAGE_LIMIT = 100  # `limit` on the paged REST lists is capped at this
TITLE_CHARS = 60  # a new conversation is named after its message, cut to this (57 + "...")

# Query parameter of /ws that asks for the delta-streaming extension: /ws?stream=delta
STREAM_PARAM, STREAM_DELTA = "stream", "delta"

# `detail` texts with a fixed meaning.
INVALID_PAYLOAD = "Invalid payload format"  # an error frame answering an unreadable client frame
CONVERSATION_NOT_FOUND = "Conversation not found"  # unknown, or someone else's (REST 404 and WS)
