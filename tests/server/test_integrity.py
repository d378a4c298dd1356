"""Integrity (issue 9, items 4-6): a reply that was not stored is never reported as
complete; a streaming reply is saved as it grows (and survives kill -9); turns on one
conversation are stored in arrival order."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import httpx
import pytest

from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.server.conftest import BACKENDS, Guest, ServerThread, collect, new_guest, open_ws, recv


async def messages_of(client: httpx.AsyncClient, guest: Guest, conversation_id: int) -> list[dict]:
    response = await client.get(f"/conversations/{conversation_id}/messages/", headers=guest.headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- item 4: a lost reply is not "complete" --------------------------------------------------
@pytest.mark.parametrize("delta", [False, True], ids=["legacy", "delta"])
async def test_a_reply_whose_conversation_was_deleted_meanwhile_is_an_error(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI, delta: bool
) -> None:
    gate = Gate()
    fake_openai.enqueue(Reply("an answer nobody will keep", hold=gate, hold_after=1))
    async with await open_ws(server, guest.token, query="stream=delta" if delta else "") as ws:
        await ws.send(json.dumps({"request_id": "r", "message": "delete me", "conversation_id": None}))
        first = await recv(ws)
        conversation_id = first["conversationId"]
        await gate.reached_async()
        assert (await api.delete(f"/conversations/{conversation_id}", headers=guest.headers)).status_code == 204
        gate.open()
        *_, last = await collect(ws, "r")
    assert last["type"] == "error"
    assert last["detail"] == "The reply was not saved: the conversation was deleted meanwhile."
    if delta:
        assert last["conversationId"] == conversation_id and "messageId" in last
    else:
        assert set(last) == {"type", "requestId", "detail"}


async def test_a_reply_that_sqlite_cannot_store_in_time_is_an_error(make_server, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(db_timeout=0.3)
    path = server.settings.database_url.removeprefix("sqlite:///")
    gate = Gate()
    fake_openai.enqueue(Reply("first part and a locked ending", hold=gate, hold_after=2))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        async with await open_ws(server, guest.token) as ws:
            await ws.send(json.dumps({"request_id": "r", "message": "secret words here", "conversation_id": None}))
            conversation_id = (await recv(ws))["conversationId"]
            await gate.reached_async()
            lock = sqlite3.connect(path, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")  # another writer holds the database past DB_TIMEOUT
            try:
                gate.open()
                *_, last = await collect(ws, "r")
            finally:
                lock.execute("ROLLBACK")
                lock.close()
        assert last == {
            "type": "error", "requestId": "r",
            "detail": "The reply was not saved: the database is unavailable; ask again shortly.",
        }  # fmt: skip
        kept = (await messages_of(client, guest, conversation_id))[-1]
    assert kept["role"] == "assistant" and kept["status"] == "partial"  # what the last save got
    assert "first part and a locked ending".startswith(kept["content"]) and kept["content"]
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "secret words here" not in logged and "first part" not in logged  # item 8: no parameters
