"""Per-message deflate whose zlib state exists only while a socket is sending.

uvicorn's WebSocket protocol (websockets' sans-I/O `ServerProtocol`) makes each
socket's compressor and decompressor at the handshake and keeps them for the socket's
life: about 38 KB of zlib state for the compressor (4 KB window, memLevel 5) and 7 KB
for the decompressor, on every open socket, idle or not, nearly half of what an idle
socket costs. Here:

- the compressor is made at the first frame sent and dropped by `release()`, which the
  `/ws` route calls once a socket has no reply in progress (through routes/ws.py's
  `RELEASE_KEY` in the scope, set by app.ExposeAbort). Context takeover stays negotiated, so the frames of a
  reply still refer back to each other (a classic frame repeats the one before it); a
  fresh compressor's output never refers to earlier messages, which any decompressor
  with the old window decodes the same (RFC 7692 lets a sender always do that);
- the client is asked not to take its context over (`client_no_context_takeover`), so
  the decompressor is made per incoming message and dropped after it: a client sends
  short prompts, which lose next to nothing by it. Every client must accept that
  parameter (RFC 7692 section 7.1.1.2): browsers and websockets do.

The window (12 bits) and memLevel (5) are uvicorn's own, so a reply's frames are the
same size on the wire as before.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.frames import CTRL_OPCODES, Frame
from websockets.typing import ExtensionParameter

WINDOW_BITS = 12
COMPRESS_SETTINGS = {"memLevel": 5}


class LazyDeflate(PerMessageDeflate):
    """PerMessageDeflate with its compressor made on first use and dropped by `release()`."""

    encoder: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.encoder = None

    def encode(self, frame: Frame) -> Frame:
        if not self.local_no_context_takeover and self.encoder is None and frame.opcode not in CTRL_OPCODES:
            self.encoder = zlib.compressobj(wbits=-self.local_max_window_bits, **self.compress_settings)
        return super().encode(frame)

    def release(self) -> None:
        """Drop the compressor: the next message starts a fresh one. Safe between any two
        messages (each frame is encoded whole, synchronously: never mid-message)."""
        self.encoder = None


class LazyDeflateFactory(ServerPerMessageDeflateFactory):
    """Negotiates as uvicorn does, plus client_no_context_takeover; makes LazyDeflate."""

    def __init__(self) -> None:
        super().__init__(
            client_no_context_takeover=True,
            server_max_window_bits=WINDOW_BITS,
            client_max_window_bits=WINDOW_BITS,
            compress_settings=COMPRESS_SETTINGS,
        )

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, ext = super().process_request_params(params, accepted_extensions)
        lazy = LazyDeflate(
            ext.remote_no_context_takeover,
            ext.local_no_context_takeover,
            ext.remote_max_window_bits,
            ext.local_max_window_bits,
            ext.compress_settings,
        )
        return response, lazy


class SansIOProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets sans-I/O protocol with LazyDeflate (when deflate is on)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any], _loop: Any = None):
        super().__init__(config, server_state, app_state, _loop)
        if config.ws_per_message_deflate:
            self.conn.available_extensions = [LazyDeflateFactory()]

    def release_compression(self) -> None:
        for ext in self.conn.extensions:
            if isinstance(ext, LazyDeflate):
                ext.release()
