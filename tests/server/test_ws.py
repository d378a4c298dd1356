"""`/ws`: legacy frames exactly as protocol.md gives them, then the extensions."""

from __future__ import annotations

import asyncio
import json
from itertools import pairwise

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from codhechat.server.security import create_token
from tests.fake_openai import Disconnect, Fail, FakeOpenAI, Gate, Reply
from tests.server.conftest import SECRET, Guest, ServerThread, ask, collect, new_guest, open_ws, recv


async def messages_of(api: httpx.AsyncClient, guest: Guest, conversation_id: int) -> list[dict]:
    response = await api.get(f"/conversations/{conversation_id}/messages/", headers=guest.headers)
    assert response.status_code == 200
    return response.json()


async def wait_for_messages(api: httpx.AsyncClient, guest: Guest, conversation_id: int, n: int) -> list[dict]:
    for _ in range(200):
        messages = await messages_of(api, guest, conversation_id)
        if len(messages) >= n:
            return messages
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {n} messages, have {messages}")


async def test_legacy_frames(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Reply("One two three"))
    async with await open_ws(server, guest.token) as ws:
        frames = await ask(ws, "  count to three  ")
    *chunks, done = frames
    conversation_id = done["conversationId"]
    assert done == {"type": "complete", "requestId": "r1", "conversationId": conversation_id}
    contents = [c["content"] for c in chunks]  # the WHOLE reply so far; pieces that come close together share a frame
    assert contents[0].startswith("One ") and contents[-1] == "One two three"  # (what arrived together: one piece)
    assert all(b.startswith(a) and len(b) > len(a) for a, b in pairwise(contents))
    for chunk in chunks:
        assert set(chunk) == {"type", "requestId", "conversationId", "content"}
        assert chunk["type"] == "chunk" and chunk["conversationId"] == conversation_id
    messages = await messages_of(api, guest, conversation_id)
    assert [(m["role"], m["content"], m["status"]) for m in messages] == [
        ("user", "count to three", "complete"),
        ("assistant", "One two three", "complete"),
    ]
    listed = (await api.get("/conversations/", headers=guest.headers)).json()
    assert listed[0]["name"] == "count to three"
    sent = fake_openai.last_messages
    assert sent[0] == {"role": "system", "content": "You are a helpful assistant."}
    assert sent[-1] == {"role": "user", "content": "count to three"}


async def test_long_first_message_names_the_conversation(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest
) -> None:
    exactly_60 = "x" * 60
    long = "word " * 30
    async with await open_ws(server, guest.token) as ws:
        first = (await ask(ws, exactly_60, request_id="a"))[-1]["conversationId"]
        second = (await ask(ws, long, request_id="b"))[-1]["conversationId"]
    names = {c["id"]: c["name"] for c in (await api.get("/conversations/", headers=guest.headers)).json()}
    assert names[first] == exactly_60
    assert names[second] == long.strip()[:57] + "..." and len(names[second]) == 60


async def test_continuing_sends_the_last_20_messages(
    server: ServerThread, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    async with await open_ws(server, guest.token) as ws:
        conversation_id = (await ask(ws, "m0", request_id="r0"))[-1]["conversationId"]
        for i in range(1, 12):
            done = (await ask(ws, f"m{i}", request_id=f"r{i}", conversation_id=conversation_id))[-1]
            assert done["conversationId"] == conversation_id
    sent = fake_openai.last_messages
    assert len(sent) == 21 and sent[0]["role"] == "system"
    assert [m["content"] for m in sent[1:]][-3:] == ["m10", "Echo: m10", "m11"]
    assert sent[1]["content"] == "Echo: m1"  # m0, Echo: m0, m1 fell out of the window


@pytest.mark.parametrize(
    "frame, reason",
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"message": "hi", "conversation_id": None}), "request_id"),
        (json.dumps({"request_id": 5, "message": "hi"}), "request_id"),
        (json.dumps({"request_id": "r", "message": "   "}), "message is empty"),
        (json.dumps({"request_id": "r", "message": 12}), "message must be a string"),
        (json.dumps({"request_id": "r", "message": "x" * 5001}), "longer than 5,000"),
        (json.dumps({"request_id": "r", "message": "hi", "conversation_id": "7"}), "conversation_id"),
        (json.dumps({"request_id": "r", "type": "bogus"}), "unknown frame type"),
    ],
    ids=["text", "array", "no-id", "int-id", "empty", "number", "too-long", "str-conv", "bad-type"],
)
async def test_invalid_payloads(server: ServerThread, guest: Guest, frame: str, reason: str) -> None:
    async with await open_ws(server, guest.token) as ws:
        await ws.send(frame)
        error = await recv(ws)
        assert error["type"] == "error" and error["detail"] == "Invalid payload format"
        assert "requestId" not in error
        assert reason in error["reason"]
        # the socket stays usable
        assert (await ask(ws, "still there?"))[-1]["type"] == "complete"


async def test_exactly_5000_characters_is_accepted(server: ServerThread, guest: Guest) -> None:
    async with await open_ws(server, guest.token) as ws:
        assert (await ask(ws, "y" * 5000))[-1]["type"] == "complete"


async def test_oversized_frame_is_an_error_frame_not_a_crash(server: ServerThread, guest: Guest) -> None:
    async with await open_ws(server, guest.token) as ws:
        await ws.send(json.dumps({"request_id": "big", "message": "z" * 100_000}))
        error = await recv(ws)
        assert error["detail"] == "Invalid payload format" and "larger than" in error["reason"]
        assert (await ask(ws, "after"))[-1]["type"] == "complete"


@pytest.mark.parametrize("token", [None, "garbage", "expired"])
async def test_bad_token_closes_1008(server: ServerThread, token: str | None) -> None:
    if token == "expired":
        token = create_token("anyone", secret=SECRET, minutes=-1)
    async with await open_ws(server, token) as ws:  # accepted first, then closed
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_no_model_closes_1013(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(model=False)
    async with httpx.AsyncClient(base_url=server.url) as client:
        guest = await new_guest(client)
        reply = await client.post("/chat/completions", json={"message": "hi"}, headers=guest.headers)
        assert reply.status_code == 503 and "OPENAI_API_KEY" in reply.json()["detail"]
    async with await open_ws(server, guest.token) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


async def test_token_in_authorization_header(server: ServerThread, guest: Guest) -> None:
    async with await open_ws(server, headers={"Authorization": f"Bearer {guest.token}"}) as ws:
        assert (await ask(ws, "via header"))[-1]["type"] == "complete"


async def test_delta_streaming_is_opt_in(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Reply("Alpha beta gamma delta"))
    async with await open_ws(server, guest.token, query="stream=delta") as ws:
        frames = await ask(ws, "deltas please")
    started, *chunks, done = frames
    conversation_id = started["conversationId"]
    assert started["type"] == "started" and isinstance(started["userMessageId"], int)
    assert all(set(c) == {"type", "requestId", "conversationId", "delta"} for c in chunks)
    assert "".join(c["delta"] for c in chunks) == "Alpha beta gamma delta"
    # The first piece is never held (it is what reached the model client together: codhechat.coalesce).
    assert chunks[0]["delta"].startswith("Alpha ") and all(c["delta"] for c in chunks)
    assert done["type"] == "complete" and done["status"] == "complete"
    messages = await messages_of(api, guest, conversation_id)
    assert messages[-1]["id"] == done["messageId"] and messages[-1]["content"] == "Alpha beta gamma delta"


async def test_concurrent_requests_on_one_socket_interleave(
    server: ServerThread, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    gate_a, gate_b = Gate(), Gate()
    fake_openai.enqueue(
        Reply("a1 a2 a3 a4 a5", hold=gate_a, hold_after=2), Reply("b1 b2 b3 b4 b5", hold=gate_b, hold_after=2)
    )
    async with await open_ws(server, guest.token) as ws:
        await ws.send(json.dumps({"request_id": "A", "message": "first", "conversation_id": None}))
        await ws.send(json.dumps({"request_id": "B", "message": "second", "conversation_id": None}))
        final: dict[str, str] = {}
        while sorted(final.values()) != ["a1 a2 ", "b1 b2 "]:  # both mid-stream at once
            frame = await recv(ws)
            assert frame["type"] == "chunk", frame
            final[frame["requestId"]] = frame["content"]
        # Which request got which reply is up to the order they reached the model.
        holder = {text[0]: rid for rid, text in final.items()}
        gate_b.open()  # "b" finishes first, whichever request started first
        frames = await collect(ws, holder["b"])
        assert frames[-1]["type"] == "complete" and frames[-2]["content"] == "b1 b2 b3 b4 b5"
        gate_a.open()
        frames = await collect(ws, holder["a"])
        assert frames[-1]["type"] == "complete" and frames[-2]["content"] == "a1 a2 a3 a4 a5"


async def test_cancel_keeps_the_partial_reply_marked(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    gate = Gate()
    fake_openai.enqueue(Reply(" ".join(f"w{i}" for i in range(200)), hold=gate, hold_after=3))
    async with await open_ws(server, guest.token, query="stream=delta") as ws:
        await ws.send(json.dumps({"request_id": "c", "message": "long one", "conversation_id": None}))
        got = ""
        while got != "w0 w1 w2 ":
            frame = await recv(ws)
            got += frame.get("delta", "")
        await ws.send(json.dumps({"type": "cancel", "request_id": "c"}))
        frames = await collect(ws, "c")
        cancelled = frames[-1]
        assert cancelled["type"] == "cancelled"
        got += "".join(f.get("delta", "") for f in frames)
        # unknown / finished ids get an error frame for that id
        await ws.send(json.dumps({"type": "cancel", "request_id": "c"}))
        assert (await recv(ws)) == {"type": "error", "requestId": "c", "detail": "No such request in progress"}
    messages = await messages_of(api, guest, cancelled["conversationId"])
    assert messages[-1]["id"] == cancelled["messageId"]
    assert messages[-1]["status"] == "partial" and messages[-1]["content"] == got == "w0 w1 w2 "
    assert not gate.is_open  # stopped while the model was still holding the rest


async def test_disconnect_keeps_the_partial_reply(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    gate = Gate()
    fake_openai.enqueue(Reply(" ".join(f"w{i}" for i in range(200)), hold=gate, hold_after=3))
    async with await open_ws(server, guest.token) as ws:
        await ws.send(json.dumps({"request_id": "d", "message": "bye soon", "conversation_id": None}))
        seen = ""
        while seen != "w0 w1 w2 ":
            frame = await recv(ws)
            seen = frame["content"]
        conversation_id = frame["conversationId"]
    for _ in range(200):  # saved as it streamed; the last save comes when the socket closes
        messages = await wait_for_messages(api, guest, conversation_id, 2)
        if messages[-1]["content"] == seen:
            break
        await asyncio.sleep(0.02)
    assert messages[-1]["role"] == "assistant" and messages[-1]["status"] == "partial"
    assert messages[-1]["content"] == seen and not gate.is_open


async def test_model_error_mid_stream_keeps_partial_marked_error(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Disconnect("half of a reply that breaks", after_chunks=3))
    async with await open_ws(server, guest.token) as ws:
        *chunks, error = await ask(ws, "break please")
    assert error["type"] == "error" and set(error) == {"type", "requestId", "detail"}
    assert "cut off" in error["detail"] and fake_openai.base_url not in error["detail"]
    conversation_id = chunks[-1]["conversationId"]
    messages = await messages_of(api, guest, conversation_id)
    assert (messages[-1]["content"], messages[-1]["status"]) == ("half of a ", "error")


async def test_a_stream_that_ends_early_is_stored_as_failed_not_complete(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    """A clean end of body without finish_reason or [DONE] (a proxy that dropped its
    upstream): the reply is cut, said so in an error frame, and stored as such."""
    fake_openai.enqueue(Reply("half of a reply", finish_reason=None, done=False))
    async with await open_ws(server, guest.token) as ws:
        *chunks, error = await ask(ws, "cut me short")
    assert error["type"] == "error" and "cut short" in error["detail"]
    messages = await wait_for_messages(api, guest, chunks[-1]["conversationId"], 2)
    assert (messages[-1]["content"], messages[-1]["status"]) == ("half of a reply", "error")


async def test_model_refusal_is_an_error_frame(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Fail(429))
    async with await open_ws(server, guest.token) as ws:
        [error] = await ask(ws, "rate limited")
        assert error["type"] == "error" and "429" in error["detail"]
        assert (await ask(ws, "works again", request_id="r2"))[-1]["type"] == "complete"
    # only the prompt was stored for the failed turn (nothing arrived to keep)
    conversations = (await api.get("/conversations/", headers=guest.headers)).json()
    failed = next(c for c in conversations if c["name"] == "rate limited")
    assert [m["role"] for m in failed["messages"]] == ["user"]


async def test_unknown_or_foreign_conversation(server: ServerThread, api: httpx.AsyncClient, guest: Guest) -> None:
    other = await new_guest(api)
    async with await open_ws(server, other.token) as ws:
        foreign = (await ask(ws, "secret stuff"))[-1]["conversationId"]
    async with await open_ws(server, guest.token) as ws:
        for conversation_id in (foreign, 987654):
            [error] = await ask(ws, "let me in", conversation_id=conversation_id)
            assert error == {"type": "error", "requestId": "r1", "detail": "Conversation not found"}
    assert len(await messages_of(api, other, foreign)) == 2


async def test_duplicate_request_id_and_per_socket_cap(make_server, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(max_requests_per_socket=2)
    gate = Gate()
    fake_openai.enqueue(Reply("x done", hold=gate), Reply("y done", hold=gate))  # both held until the checks
    async with httpx.AsyncClient(base_url=server.url) as client:
        guest = await new_guest(client)
    async with await open_ws(server, guest.token) as ws:
        for rid in ("x", "x", "y", "z"):
            await ws.send(json.dumps({"request_id": rid, "message": "wait", "conversation_id": None}))
        errors = [await recv(ws), await recv(ws)]
        assert errors[0] == {"type": "error", "requestId": "x", "detail": "This request_id is already in progress"}
        assert errors[1]["requestId"] == "z" and "at most 2" in errors[1]["detail"]
        gate.open()
        finished: set[str] = set()
        while len(finished) < 2:
            frame = await recv(ws)
            if frame["type"] == "complete":
                finished.add(frame["requestId"])
        assert finished == {"x", "y"}


async def test_socket_caps_total_and_per_user(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(max_ws_connections=3, max_ws_connections_per_user=2)
    async with httpx.AsyncClient(base_url=server.url) as client:
        alice, bob, carol = [await new_guest(client) for _ in range(3)]
    a1 = await open_ws(server, alice.token)
    a2 = await open_ws(server, alice.token)
    assert (await ask(a1, "hi"))[-1]["type"] == "complete"
    a3 = await open_ws(server, alice.token)
    refused = await recv(a3)
    assert refused["type"] == "error" and "this user" in refused["detail"]
    with pytest.raises(ConnectionClosed) as closed:
        await recv(a3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    b1 = await open_ws(server, bob.token)
    assert (await ask(b1, "hi"))[-1]["type"] == "complete"
    c1 = await open_ws(server, carol.token)  # 4th socket: over the total
    assert "too many open connections" in (await recv(c1))["detail"]
    # closing one frees a slot
    await a1.close()
    for _ in range(100):
        c2 = await open_ws(server, carol.token)
        try:
            frames = await ask(c2, "now?")
            break
        except ConnectionClosed:
            await asyncio.sleep(0.02)
    assert frames[-1]["type"] == "complete"
    for ws in (a2, a3, b1, c1, c2):
        await ws.close()


async def test_delta_socket_errors_name_the_request(server: ServerThread, guest: Guest) -> None:
    async with await open_ws(server, guest.token, query="stream=delta") as ws:
        await ws.send(json.dumps({"request_id": "long", "message": "x" * 5001}))
        error = await recv(ws)
    assert error["requestId"] == "long" and error["detail"] == "Invalid payload format"
    assert "5,000" in error["reason"]
