"""Integrity (issue 9, items 4-6): a reply that was not stored is never reported as
complete; a streaming reply is saved as it grows (and survives kill -9); turns on one
conversation are stored in arrival order."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.server.conftest import Guest, Replica, ServerThread, collect, new_guest, open_ws, recv, replica_env


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


async def test_a_reply_that_sqlite_cannot_store_in_time_is_an_error(
    make_server, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
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
            await wait_for_reply_row(client, guest, conversation_id)  # the first save is in
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


# -- item 5: saved while it streams ------------------------------------------------------------
async def wait_for_reply_row(client: httpx.AsyncClient, guest: Guest, conversation_id: int) -> dict:
    deadline = time.monotonic() + 15
    while True:
        messages = await messages_of(client, guest, conversation_id)
        if len(messages) == 2:
            return messages[1]
        assert time.monotonic() < deadline, "the streaming reply was never saved"
        await asyncio.sleep(0.05)


async def test_a_streaming_reply_survives_kill_9(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    env = replica_env(f"sqlite:///{tmp_path / 'chat.db'}", fake_openai)
    gate = Gate()
    fake_openai.enqueue(Reply("saved before the crash and lost after it", hold=gate, hold_after=3))
    first = Replica(env, tmp_path / "first.log")
    try:
        first.wait_ready()
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            guest = await new_guest(client)
            ws = await open_ws(first, guest.token)
            await ws.send(json.dumps({"request_id": "r", "message": "crash soon", "conversation_id": None}))
            conversation_id = (await recv(ws))["conversationId"]
            await gate.reached_async()
            row = await wait_for_reply_row(client, guest, conversation_id)  # saved mid-stream
            assert row["status"] == "partial" and row["content"].startswith("saved ")
            first.kill()
            await ws.close()
    finally:
        if first.proc.poll() is None:  # the test failed before the kill
            first.stop()
    again = Replica(env, tmp_path / "again.log")
    try:
        again.wait_ready()
        async with httpx.AsyncClient(base_url=again.url, timeout=30) as client:
            messages = await messages_of(client, guest, conversation_id)
    finally:
        again.stop()
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "partial")]
    assert messages[1]["content"] and "saved before the crash ".startswith(messages[1]["content"])


async def test_a_streaming_reply_is_saved_at_most_once_an_interval(make_server, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    """The row is made at the first text; with a long interval, nothing more until the end."""
    server: ServerThread = make_server(reply_save_interval=3600, ws_chunk_interval=0)  # a frame per piece
    gate = Gate()
    fake_openai.enqueue(Reply("one two three four", hold=gate, hold_after=3))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        async with await open_ws(server, guest.token) as ws:
            await ws.send(json.dumps({"request_id": "r", "message": "count", "conversation_id": None}))
            chunks = [await recv(ws)]  # tokens that reach the model client together are one piece
            while chunks[-1]["content"] != "one two three ":
                chunks.append(await recv(ws))
            row = await wait_for_reply_row(client, guest, chunks[0]["conversationId"])
            assert (row["content"], row["status"]) == (chunks[0]["content"], "partial")  # the first piece only
            gate.open()
            *_, done = await collect(ws, "r")
        assert done["type"] == "complete"
        final = (await messages_of(client, guest, chunks[0]["conversationId"]))[1]
    assert (final["id"], final["content"], final["status"]) == (row["id"], "one two three four", "complete")


# -- item 6: order on one conversation ------------------------------------------------------------
async def test_turns_on_one_conversation_run_in_arrival_order(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    gate = Gate()
    fake_openai.enqueue(Reply("first answer", hold=gate, hold_after=1))
    async with await open_ws(server, guest.token, query="stream=delta") as ws:
        await ws.send(json.dumps({"request_id": "a", "message": "first", "conversation_id": None}))
        conversation_id = (await recv(ws))["conversationId"]
        await gate.reached_async()
        for rid, text in (("b", "second"), ("c", "third")):
            await ws.send(json.dumps({"request_id": rid, "message": text, "conversation_id": conversation_id}))
        # Another conversation is not held up: it completes while "a" is still streaming.
        await ws.send(json.dumps({"request_id": "other", "message": "elsewhere", "conversation_id": None}))
        early = []
        while (frame := await recv(ws))["type"] != "complete" or frame["requestId"] != "other":
            early.append(frame)
        assert {f["requestId"] for f in early} <= {"a", "other"}, early  # "b" and "c" wait their turn
        gate.open()
        done = {}
        while len(done) < 3:
            frame = await recv(ws)
            if frame["type"] in ("complete", "error"):
                done[frame["requestId"]] = frame["type"]
    assert done == {"a": "complete", "b": "complete", "c": "complete"}
    stored = await messages_of(api, guest, conversation_id)
    assert [m["content"] for m in stored] == ["first", "first answer", "second", "Echo: second", "third", "Echo: third"]
    assert fake_openai.requests[-1]["body"]["messages"][-3:] == [
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "Echo: second"},
        {"role": "user", "content": "third"},
    ]  # each turn saw the one before it
