"""Two `codhechat serve` processes sharing one PostgreSQL serve the same users."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.server.conftest import PostgresServer, Replica, ask, collect, new_guest, open_ws, recv, replica_env


@pytest.fixture
def start_replicas(
    postgres: PostgresServer, fake_openai: FakeOpenAI, tmp_path: Path
) -> Iterator[Callable[..., list[Replica]]]:
    """start_replicas(**settings): two replicas on one fresh database, both ready."""
    started: list[Replica] = []

    def start(**settings: str) -> list[Replica]:
        url = postgres.new_database()
        env = replica_env(url, fake_openai, **settings)
        # Both start at once: the migration takes an advisory lock, so only one creates the schema.
        pair = [Replica(env, tmp_path / f"replica{len(started) + i}.log") for i in (1, 2)]
        started.extend(pair)
        for replica in pair:
            replica.wait_ready()
            replica.database_url = url  # type: ignore[attr-defined]
        return pair

    yield start
    for replica in started:
        if replica.proc.poll() is None:
            replica.stop()


@pytest.fixture
def replicas(start_replicas: Callable[..., list[Replica]]) -> list[Replica]:
    return start_replicas()


async def test_a_conversation_moves_between_replicas(replicas: list[Replica], fake_openai: FakeOpenAI) -> None:
    one, two = replicas
    fake_openai.enqueue(Reply("First answer"), Reply("Second answer"))
    async with httpx.AsyncClient(base_url=one.url) as client:
        guest = await new_guest(client)
    # Start on replica one over the WebSocket...
    async with await open_ws(one, guest.token) as ws:
        frames = await ask(ws, "hello from one")
    conversation_id = frames[-1]["conversationId"]
    assert frames[-2]["content"] == "First answer"
    # ...listed and continued on replica two with the same token.
    async with httpx.AsyncClient(base_url=two.url) as client:
        listed = (await client.get("/conversations/", headers=guest_headers(guest.token))).json()
        assert [c["id"] for c in listed] == [conversation_id]
        assert [m["content"] for m in listed[0]["messages"]] == ["hello from one", "First answer"]
    async with await open_ws(two, guest.token) as ws:
        frames = await ask(ws, "and on two", conversation_id=conversation_id)
    assert frames[-1] == {"type": "complete", "requestId": "r1", "conversationId": conversation_id}
    # The model on replica two saw the history written through replica one.
    assert [m["content"] for m in fake_openai.last_messages[1:]] == ["hello from one", "First answer", "and on two"]
    async with httpx.AsyncClient(base_url=one.url) as client:
        messages = (
            await client.get(f"/conversations/{conversation_id}/messages/", headers=guest_headers(guest.token))
        ).json()
    assert [m["content"] for m in messages] == ["hello from one", "First answer", "and on two", "Second answer"]
    # Logs went out as JSON and carry no token.
    for replica in replicas:
        text = replica.log.read_text()
        assert guest.token not in text and '"level": "INFO"' in text


def guest_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- issue 9, items 13 and 6: limits and turn order hold across replicas ---------------------------
async def test_limits_are_shared_by_the_replicas(
    start_replicas: Callable[..., list[Replica]], fake_openai: FakeOpenAI
) -> None:
    one, two = start_replicas(auth_rate_limit="3", max_ws_connections_per_user="2", max_replies_per_user="1")
    async with httpx.AsyncClient(base_url=one.url) as on_one, httpx.AsyncClient(base_url=two.url) as on_two:
        guest = await new_guest(on_one)
        await new_guest(on_two)
        await new_guest(on_one)
        assert (await on_two.post("/auth/guest")).status_code == 429  # 3 a minute, across both
        # Sockets: 2 per user, wherever they are.
        first, second = await open_ws(one, guest.token), await open_ws(two, guest.token)
        for ws in (first, second):  # a frame answered: the socket was admitted (its lease is in)
            await ws.send("not json")
            assert (await recv(ws))["detail"] == "Invalid payload format"
        third = await open_ws(one, guest.token)
        refused = await recv(third)
        assert "this user (at most 2)" in refused["detail"]
        with pytest.raises(ConnectionClosed):
            await recv(third)
        # Replies: 1 per user; one in progress on replica one refuses a second on replica two.
        gate = Gate()
        fake_openai.enqueue(Reply("held on one", hold=gate, hold_after=1))
        await first.send(json.dumps({"request_id": "a", "message": "hold", "conversation_id": None}))
        await gate.reached_async()
        busy = await on_two.post("/chat/completions", json={"message": "too"}, headers=guest_headers(guest.token))
        assert busy.status_code == 429 and "at most 1" in busy.json()["detail"]
        gate.open()
        assert (await collect(first, "a"))[-1]["type"] == "complete"
        # Given back when it ended: now replica two may reply.
        assert (await ask(second, "now"))[-1]["type"] == "complete"
        await first.close()
        await second.close()


async def test_turns_on_one_conversation_keep_their_order_across_replicas(
    start_replicas: Callable[..., list[Replica]], postgres: PostgresServer, fake_openai: FakeOpenAI
) -> None:
    one, two = start_replicas()
    gate = Gate()
    fake_openai.enqueue(Reply("answer on one", hold=gate, hold_after=1))
    async with httpx.AsyncClient(base_url=one.url) as client:
        guest = await new_guest(client)
        on_one, on_two = await open_ws(one, guest.token), await open_ws(two, guest.token)
        await on_one.send(json.dumps({"request_id": "a", "message": "first", "conversation_id": None}))
        conversation_id = (await recv(on_one))["conversationId"]
        await gate.reached_async()
        await on_two.send(json.dumps({"request_id": "b", "message": "second", "conversation_id": conversation_id}))
        deadline = time.monotonic() + 15
        query = f"SELECT count(*) FROM turn_tickets WHERE conversation_id = {conversation_id}"
        while postgres.sql(one.database_url, query) != "2":  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "the second turn never queued"
            await asyncio.sleep(0.05)
        gate.open()
        assert (await collect(on_one, "a"))[-1]["type"] == "complete"
        assert (await collect(on_two, "b"))[-1]["type"] == "complete"
        messages = (
            await client.get(f"/conversations/{conversation_id}/messages/", headers=guest_headers(guest.token))
        ).json()
        await on_one.close()
        await on_two.close()
    assert [m["content"] for m in messages] == ["first", "answer on one", "second", "Echo: second"]
