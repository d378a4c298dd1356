"""Availability under attack and faults (issue 9, items 1-3): the pool never deadlocks,
sockets cannot be hoarded, a client that stops reading is dropped, and a database
outage is answered (1013 / error frame / 503) and recovered from on its own."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.fake_openai import FakeOpenAI, Gate, Reply
from tests.server.conftest import ServerThread, ask, collect, new_guest, open_ws, recv


async def health_within(client: httpx.AsyncClient, seconds: float) -> None:
    started = time.monotonic()
    response = await client.get("/health", timeout=seconds)
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < seconds


# -- item 1: the pool ------------------------------------------------------------------
async def test_rest_chats_from_one_user_never_starve_the_pool(make_server, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    """3x the pool (10 + 30) of concurrent chats from ONE token, all held mid-reply by the
    model: /health answers within 1 s throughout, and every chat completes."""
    server: ServerThread = make_server(max_replies_per_user=1000)
    pool = server.settings.db_pool_size + server.settings.db_max_overflow
    n = 3 * pool
    gate = Gate()
    fake_openai.enqueue(*[Reply("held reply", hold=gate, hold_after=1) for _ in range(n)])
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=n + 10)) as client:
        guest = await new_guest(client)
        chats = [
            asyncio.create_task(client.post("/chat/completions", json={"message": f"m{i}"}, headers=guest.headers))
            for i in range(n)
        ]
        deadline = time.monotonic() + 60
        while len(fake_openai.requests) < n:  # every chat reached the model, none holds a connection
            assert time.monotonic() < deadline, f"only {len(fake_openai.requests)} of {n} chats reached the model"
            await health_within(client, 1.0)
            await asyncio.sleep(0.05)
        for _ in range(5):
            await health_within(client, 1.0)
        gate.open()
        replies = await asyncio.gather(*chats)
    assert [r.status_code for r in replies] == [200] * n
    assert {r.json()["reply"] for r in replies} == {"held reply"}


async def test_rest_chat_has_the_per_user_reply_limit_of_the_socket(make_server, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(max_replies_per_user=2)
    gate = Gate()
    fake_openai.enqueue(Reply("one two", hold=gate, hold_after=1), Reply("three four", hold=gate, hold_after=1))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        held = [asyncio.create_task(client.post("/chat/completions", json={"message": m}, headers=guest.headers))
                for m in ("a", "b")]  # fmt: skip
        await asyncio.to_thread(fake_openai.wait_for_requests, 2)
        refused = await client.post("/chat/completions", json={"message": "c"}, headers=guest.headers)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert "at most 2" in refused.json()["detail"]
        async with await open_ws(server, guest.token) as ws:  # the socket shares the user's budget
            [error] = await ask(ws, "d")
            assert error["type"] == "error" and "Too many replies in progress for this user" in error["detail"]
            gate.open()
            assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
            assert (await ask(ws, "e", request_id="r2"))[-1]["type"] == "complete"
        other = await new_guest(client)  # another user has a budget of their own
        assert (await client.post("/chat/completions", json={"message": "f"}, headers=other.headers)).status_code == 200


async def test_a_rest_reply_stops_when_its_client_hangs_up(make_server, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(max_replies_per_user=1)
    gate = Gate()
    fake_openai.enqueue(Reply("kept part, never sent", hold=gate, hold_after=2))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        created = await client.post(f"/users/{guest.user_id}/conversations/", json={"name": "x"}, headers=guest.headers)
        conversation_id = created.json()["id"]
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as leaving:
            chat = asyncio.create_task(leaving.post(
                "/chat/completions", json={"message": "hang up", "conversation_id": conversation_id},
                headers=guest.headers,
            ))  # fmt: skip
            await gate.reached_async()
            chat.cancel()  # the client goes away mid-reply
            await asyncio.gather(chat, return_exceptions=True)
        # The reply's lease is given back only when its stream stops: a new chat is admitted.
        deadline = time.monotonic() + 15
        while (again := await client.post("/chat/completions", json={"message": "next"}, headers=guest.headers)).status_code == 429:
            assert time.monotonic() < deadline, "the abandoned reply is still streaming"
            await asyncio.sleep(0.05)
        assert again.status_code == 200
        messages = (await client.get(f"/conversations/{conversation_id}/messages/", headers=guest.headers)).json()
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "partial")]
    kept = messages[1]["content"]  # what had reached the server when the client left
    assert kept in ("kept ", "kept part, ") and not gate.is_open
