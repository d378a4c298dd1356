"""Per-message deflate's zlib state only while a socket sends (server/ws_deflate.py), seen
by a real websockets client on loopback: what is negotiated, no compressor on a fresh
socket, none once a socket has idled, and a reply's frames after that decoding on their own."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame

from codhechat.server.ws_deflate import LazyDeflate
from tests.fake_openai import FakeOpenAI, Reply
from tests.server.conftest import ServerThread, ask, new_guest, open_ws


def client_deflate(ws: ClientConnection) -> PerMessageDeflate:
    (ext,) = ws.protocol.extensions
    assert isinstance(ext, PerMessageDeflate)
    return ext


def server_deflate(server: ServerThread) -> LazyDeflate:
    """The one open socket's extension, in the server's own protocol object."""
    (protocol,) = [c for c in server.server.server_state.connections if getattr(c, "handshake_complete", False)]
    (ext,) = protocol.conn.extensions  # type: ignore[attr-defined]
    assert isinstance(ext, LazyDeflate)
    return ext


def record_compressed(ws: ClientConnection) -> list[bytes]:
    """The compressed payload of each message as it came (before the client inflates it)."""
    ext = client_deflate(ws)
    seen: list[bytes] = []
    decode: Callable[..., Frame] = ext.decode

    def recording(frame: Frame, **kwargs: Any) -> Frame:
        if frame.rsv1:
            seen.append(bytes(frame.data))
        return decode(frame, **kwargs)

    ext.decode = recording  # type: ignore[method-assign]
    return seen


def inflate_alone(payload: bytes) -> bytes | None:
    """The message inflated with no earlier window, or None when it refers back to one."""
    try:
        return zlib.decompressobj(wbits=-12).decompress(payload + b"\x00\x00\xff\xff")
    except zlib.error:
        return None


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_negotiated_parameters_and_no_compressor_on_a_fresh_socket(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server()
    async with httpx.AsyncClient(base_url=server.url) as client:
        guest = await new_guest(client)
    async with await open_ws(server, guest.token) as ws:
        ext = client_deflate(ws)
        # The client keeps no context (it sends short prompts); the server keeps its own
        # within a reply; 4 KB windows both ways, as uvicorn asks.
        assert ext.local_no_context_takeover and not ext.remote_no_context_takeover
        assert (ext.local_max_window_bits, ext.remote_max_window_bits) == (12, 12)
        served = server_deflate(server)
        assert served.encoder is None and not hasattr(served, "decoder")
        assert served.compress_settings == {"memLevel": 5}


async def test_an_idle_socket_drops_its_compressor_and_the_next_reply_starts_afresh(
    make_server, fake_openai: FakeOpenAI
) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(ws_compressor_idle=0.05)
    async with httpx.AsyncClient(base_url=server.url) as client:
        guest = await new_guest(client)
    async with await open_ws(server, guest.token) as ws:
        seen = record_compressed(ws)
        fake_openai.enqueue(Reply("One two three"))
        first = await ask(ws, "count", request_id="a")
        assert first[-1]["type"] == "complete"
        served = server_deflate(server)
        await until(lambda: served.encoder is None)  # idle: released
        before = len(seen)
        fake_openai.enqueue(Reply("One two three"))
        second = await ask(ws, "count again", request_id="b", conversation_id=first[-1]["conversationId"])
        assert second[-2]["content"] == first[-2]["content"] == "One two three"
        assert inflate_alone(seen[before]) is not None  # a fresh compressor: no reference to reply a


async def test_back_to_back_replies_keep_the_compressor(make_server, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(ws_compressor_idle=60)
    async with httpx.AsyncClient(base_url=server.url) as client:
        guest = await new_guest(client)
    async with await open_ws(server, guest.token) as ws:
        seen = record_compressed(ws)
        fake_openai.enqueue(Reply("One two three"))
        first = await ask(ws, "count", request_id="a")
        before = len(seen)
        fake_openai.enqueue(Reply("One two three"))
        await ask(ws, "count again", request_id="b", conversation_id=first[-1]["conversationId"])
        assert server_deflate(server).encoder is not None
        assert inflate_alone(seen[before]) is None  # refers back to reply a's frames
