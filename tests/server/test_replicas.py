"""Two `codhechat serve` processes sharing one PostgreSQL serve the same users."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fake_openai import FakeOpenAI, Reply
from tests.server.conftest import SECRET, PostgresServer, Replica, ask, new_guest, open_ws


@pytest.fixture
def replicas(postgres: PostgresServer, fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[list[Replica]]:
    env = {
        **os.environ,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": postgres.new_database(),
        "OPENAI_BASE_URL": fake_openai.base_url,
        "MODEL_MAX_RETRIES": "0",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
    }
    # Both start at once: the migration takes an advisory lock, so only one creates the schema.
    started = [Replica(env, tmp_path / f"replica{i}.log") for i in (1, 2)]
    try:
        for replica in started:
            replica.wait_ready()
        yield started
    finally:
        for replica in started:
            replica.stop()


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
        messages = (await client.get(f"/conversations/{conversation_id}/messages/", headers=guest_headers(guest.token))).json()
    assert [m["content"] for m in messages] == ["hello from one", "First answer", "and on two", "Second answer"]
    # Logs went out as JSON and carry no token.
    for replica in replicas:
        text = replica.log.read_text()
        assert guest.token not in text and '"level": "INFO"' in text


def guest_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


