"""Chunk frames are coalesced (issue 18): at most one per WS_CHUNK_INTERVAL per reply,
the first piece never held, a waiting piece sent without more text coming, and the
frames adding up to exactly the model's text in both flavours."""

from __future__ import annotations

import asyncio
import json
from itertools import pairwise

import httpx
import pytest

from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.server.conftest import ServerThread, collect, new_guest, open_ws, recv

# Words of several scripts, an emoji with a modifier, a combining accent, markup-like text:
# whatever is cut where, the frames must join back to exactly this.
WORDS = ["plain", "naïve", "e\u0301t\u00e9", "日本語", "👍🏽", "[b]x[/b]", "\\n", "end."]
TEXT = " ".join(WORDS[i % len(WORDS)] + str(i) for i in range(400))


def reassembled(chunks: list[dict], *, delta: bool) -> str:
    if delta:
        return "".join(c["delta"] for c in chunks)
    contents = [c["content"] for c in chunks]
    assert all(b.startswith(a) for a, b in pairwise(contents)), "a classic chunk is not the reply so far"
    return contents[-1]


@pytest.mark.parametrize("delta", [False, True], ids=["classic", "delta"])
async def test_coalesced_frames_reassemble_to_exactly_the_models_text(
    make_server, fake_openai: FakeOpenAI, delta: bool
) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(ws_chunk_interval=0.05)
    fake_openai.enqueue(Reply(TEXT, delay=0.002))  # ~400 pieces over a second or more

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        async with await open_ws(server, guest.token, query="stream=delta" if delta else "") as ws:
            await ws.send(json.dumps({"request_id": "r", "message": "many pieces", "conversation_id": None}))
            frames = await collect(ws, "r", timeout=30)
        chunks = [f for f in frames if f["type"] == "chunk"]
        assert frames[-1]["type"] == "complete"
        assert reassembled(chunks, delta=delta) == TEXT
        first_piece = TEXT.split(" ")[0] + " "
        assert (chunks[0]["delta"] if delta else chunks[0]["content"]).startswith(first_piece)  # never held back
        assert len(chunks) < 400 / 4, f"{len(chunks)} frames for 400 pieces: not coalesced"
        conversation_id = frames[-1]["conversationId"]
        stored = (await client.get(f"/conversations/{conversation_id}/messages/", headers=guest.headers)).json()
    assert stored[-1]["content"] == TEXT and stored[-1]["status"] == "complete"


@pytest.mark.parametrize("delta", [False, True], ids=["classic", "delta"])
async def test_a_waiting_piece_goes_out_while_the_model_pauses(
    make_server, fake_openai: FakeOpenAI, delta: bool
) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(ws_chunk_interval=0.05)
    gate = Gate()
    fake_openai.enqueue(Reply("one two three four five", hold=gate, hold_after=3))

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        async with await open_ws(server, guest.token, query="stream=delta" if delta else "") as ws:
            await ws.send(json.dumps({"request_id": "r", "message": "pause", "conversation_id": None}))
            chunks: list[dict] = []
            while not chunks or reassembled(chunks, delta=delta) != "one two three ":
                frame = await recv(ws, timeout=5)  # the model holds: only the timer can send "two three "
                if frame["type"] == "chunk":
                    chunks.append(frame)
            assert not gate.is_open
            gate.open()
            frames = await collect(ws, "r")
    chunks += [f for f in frames if f["type"] == "chunk"]
    assert frames[-1]["type"] == "complete"
    assert reassembled(chunks, delta=delta) == "one two three four five"


async def test_a_cancelled_reply_sends_what_it_had_waiting_first(make_server, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    # The pieces after the first wait a second for their frame; the saves show when all four are in.
    server: ServerThread = make_server(ws_chunk_interval=1.0, reply_save_interval=0.01)
    gate = Gate()
    fake_openai.enqueue(Reply("kept one two three and not this", hold=gate, hold_after=4, delay=0.02))

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        async with await open_ws(server, guest.token, query="stream=delta") as ws:
            await ws.send(json.dumps({"request_id": "r", "message": "stop me", "conversation_id": None}))
            started = await recv(ws)
            conversation_id = started["conversationId"]
            while (await client.get(f"/conversations/{conversation_id}/messages/", headers=guest.headers)).json()[-1][
                "content"
            ] != "kept one two three ":
                await asyncio.sleep(0.02)  # polling the server's saves, not racing its timer
            await ws.send(json.dumps({"type": "cancel", "request_id": "r"}))
            frames = await collect(ws, "r")
        chunks = [f for f in frames if f["type"] == "chunk"]
        assert frames[-1]["type"] == "cancelled"
        stored = (await client.get(f"/conversations/{conversation_id}/messages/", headers=guest.headers)).json()
    assert reassembled(chunks, delta=True) == "kept one two three " == stored[-1]["content"]
    assert stored[-1]["status"] == "partial"


async def test_replies_on_one_socket_share_its_frame_rate(make_server, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(ws_chunk_interval=0.05)
    fake_openai.enqueue(Reply(TEXT, delay=0.002), Reply(TEXT, delay=0.002))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        async with await open_ws(server, guest.token, query="stream=delta") as ws:
            loop = asyncio.get_running_loop()
            for rid in ("a", "b"):
                await ws.send(json.dumps({"request_id": rid, "message": "at once", "conversation_id": None}))
            texts, ended, chunks = {"a": "", "b": ""}, set(), 0
            first_at = last_at = None
            while len(ended) < 2:
                frame = await recv(ws, timeout=30)
                if frame["type"] == "chunk":
                    chunks += 1
                    texts[frame["requestId"]] += frame["delta"]
                    first_at = first_at or loop.time()
                    last_at = loop.time()
                elif frame["type"] in ("complete", "error"):
                    ended.add(frame["requestId"])
    assert texts == {"a": TEXT, "b": TEXT}
    assert first_at is not None and last_at is not None
    # One frame per interval on the socket, plus each reply's first piece and its flush.
    assert chunks <= (last_at - first_at) / 0.05 + 4 + 1, f"{chunks} frames in {last_at - first_at:.2f} s"


async def test_the_models_stream_is_read_as_often_as_frames_go(
    make_server, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Between two frames to its socket, a reply's model stream is not read: what the model
    sent meanwhile is parsed in one go at the next (codhechat.read_pace), not token by token."""
    from codhechat import asyncio_net

    reads = 0
    read = asyncio_net._Stream.read

    async def counted(self, max_bytes: int, timeout: float | None = None) -> bytes:  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        return await read(self, max_bytes, timeout)

    monkeypatch.setattr(asyncio_net._Stream, "read", counted)  # the server runs in this process (ServerThread)
    server: ServerThread = make_server(ws_chunk_interval=0.25)
    pieces = TEXT.split(" ")[:120]
    fake_openai.enqueue(Reply(" ".join(pieces), delay=0.01))  # 120 chunks over 1.2 s or more
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        async with await open_ws(server, guest.token, query="stream=delta") as ws:
            await ws.send(json.dumps({"request_id": "r", "message": "pace me", "conversation_id": None}))
            frames = await collect(ws, "r", timeout=30)
    chunks = [f for f in frames if f["type"] == "chunk"]
    assert frames[-1]["type"] == "complete" and reassembled(chunks, delta=True) == " ".join(pieces)
    # Once per frame (about one per 0.25 s), plus the headers and the end; one per chunk unpaced.
    assert reads <= 2 * len(chunks) + 6 < 60, (reads, len(chunks))
