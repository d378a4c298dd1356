"""How long a model stream's reader may wait before reading the socket again.

A model streams one Server-Sent Event per token, and reading each as it lands wakes
the whole reading stack (event loop, HTTP/1.1 parser, SSE decoder, JSON) once a token.
Whoever shows the text knows when it can next show more: the WebSocket relay of
`codhechat serve` (its next frame to the socket) and the terminal app (its next
frame on screen). Until then a read only makes text that waits, so the reader waits
first and then takes, in one read, everything that arrived meanwhile.

One definition for both: the network backend of both (asyncio_net.py: the server's model
client and the local one) reads it before each read, and stops waiting early for what is
worth reading at once (a reply's end, a backlog).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

read_pace: ContextVar[Callable[[], float] | None] = ContextVar("read_pace", default=None)
"""Set by a reader that will not hand text on for a while: seconds until it next can (0: read
now). Set in the task that iterates the stream, before it starts."""
