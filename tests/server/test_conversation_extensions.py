"""The conversation extensions of `codhechat serve` (issue 11): pin, a model (from the
allow-list) and system prompt per conversation, GET /models, token usage per reply, JSON
export/import in codhechat's own format, full-text search on both databases."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fake_openai import FakeOpenAI
from tests.server.conftest import BACKENDS, ServerThread, ask, new_guest, open_ws
from tests.server.test_conversations import chat


async def test_the_extensions_are_advertised(api: httpx.AsyncClient) -> None:
    named = (await api.get("/extensions")).json()["extensions"]
    assert {"pin", "conversation_options", "models", "tokens", "archive", "search"} <= set(named)


async def test_pin_and_unpin_only_ones_own(api: httpx.AsyncClient) -> None:
    mine, theirs = await new_guest(api), await new_guest(api)
    conversation = (await chat(api, mine, "pin me"))["conversation_id"]
    pinned = await api.put(f"/conversations/{conversation}/pin", json={"pinned": True}, headers=mine.headers)
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["pinned_at"] is not None
    listed = (await api.get("/conversations/?include_messages=false", headers=mine.headers)).json()
    assert listed[0]["pinned_at"] == pinned.json()["pinned_at"]
    foreign = await api.put(f"/conversations/{conversation}/pin", json={"pinned": False}, headers=theirs.headers)
    assert foreign.status_code == 404
    unpinned = await api.put(f"/conversations/{conversation}/pin", json={"pinned": False}, headers=mine.headers)
    assert unpinned.json()["pinned_at"] is None


async def test_a_conversation_uses_its_own_allowed_model_and_system_prompt(
    make_server: object, fake_openai: FakeOpenAI
) -> None:
    server: ServerThread = make_server(allowed_models=["gpt-4o"])  # type: ignore[operator]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as api:
        guest = await new_guest(api)
        listed = (await api.get("/models", headers=guest.headers)).json()
        assert listed == {"default": "gpt-4o-mini", "models": ["gpt-4o-mini", "gpt-4o"]}
        assert (await api.get("/models")).status_code == 401
        conversation = (await chat(api, guest, "first"))["conversation_id"]
        assert fake_openai.requests[-1]["body"]["model"] == "gpt-4o-mini"
        path = f"/conversations/{conversation}/options"
        refused = await api.put(path, json={"model": "gpt-5-secret"}, headers=guest.headers)
        assert refused.status_code == 422
        assert "does not offer the model 'gpt-5-secret'" in refused.json()["detail"]
        assert "gpt-4o-mini, gpt-4o" in refused.json()["detail"]
        body = {"model": "gpt-4o", "system_prompt": "Answer like a pirate."}
        chosen = await api.put(path, json=body, headers=guest.headers)
        assert chosen.status_code == 200 and chosen.json()["model"] == "gpt-4o"
        await chat(api, guest, "second", conversation)
        sent = fake_openai.requests[-1]["body"]
        assert sent["model"] == "gpt-4o"
        assert sent["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
        back = await api.put(path, json={"model": None, "system_prompt": ""}, headers=guest.headers)
        assert back.json()["model"] is None and back.json()["system_prompt"] is None
        await chat(api, guest, "third", conversation)
        assert fake_openai.requests[-1]["body"]["model"] == "gpt-4o-mini"
        assert fake_openai.requests[-1]["body"]["messages"][0]["content"] != "Answer like a pirate."


async def test_a_reply_keeps_its_token_usage_over_rest_and_the_socket(
    api: httpx.AsyncClient, server: ServerThread
) -> None:
    guest = await new_guest(api)
    conversation = (await chat(api, guest, "count my tokens"))["conversation_id"]
    messages = (await api.get(f"/conversations/{conversation}/messages/", headers=guest.headers)).json()
    reply = messages[-1]
    assert reply["role"] == "assistant" and reply["model"] == "gpt-4o-mini"
    assert reply["prompt_tokens"] > 0 and reply["completion_tokens"] > 0
    assert messages[0]["prompt_tokens"] is None  # a prompt has no usage of its own
    ws = await open_ws(server, guest.token, query="stream=delta")
    try:
        frames = await ask(ws, "and on the socket", conversation_id=conversation)
    finally:
        await ws.close()
    complete = frames[-1]
    assert complete["type"] == "complete" and complete["promptTokens"] > 0 and complete["completionTokens"] > 0
    legacy = await open_ws(server, guest.token)
    try:
        frames = await ask(legacy, "a classic client", conversation_id=conversation)
    finally:
        await legacy.close()
    assert set(frames[-1]) == {"type", "requestId", "conversationId"}  # the legacy frame, exactly


@pytest.mark.parametrize("backend", BACKENDS)
async def test_export_import_round_trip_is_byte_identical(
    make_server: object, fake_openai: FakeOpenAI, backend: str
) -> None:
    first: ServerThread = make_server(backend, allowed_models=["gpt-4o"])  # type: ignore[operator]
    second: ServerThread = make_server(backend)  # type: ignore[operator]
    async with httpx.AsyncClient(base_url=first.url, timeout=10) as api, \
            httpx.AsyncClient(base_url=second.url, timeout=10) as other:  # fmt: skip
        guest = await new_guest(api)
        one = (await chat(api, guest, "the first conversation"))["conversation_id"]
        await chat(api, guest, "a follow-up", one)
        two = (await chat(api, guest, "the second one"))["conversation_id"]
        await api.put(f"/conversations/{two}/pin", json={"pinned": True}, headers=guest.headers)
        await api.put(f"/conversations/{one}/options", json={"model": "gpt-4o", "system_prompt": "Be brief."},
                      headers=guest.headers)  # fmt: skip
        exported = await api.get("/export", headers=guest.headers)
        assert exported.status_code == 200
        document = json.loads(exported.text)
        assert document["format"] == "codhechat" and len(document["conversations"]) == 2
        assert document["conversations"][0]["model"] == "gpt-4o"
        assert document["conversations"][1]["pinned_at"] is not None
        assert document["conversations"][0]["messages"][1]["prompt_tokens"] > 0

        elsewhere = await new_guest(other)
        imported = await other.post("/import", content=exported.content, headers=elsewhere.headers)
        assert imported.status_code == 200, imported.text
        assert len(imported.json()["imported"]) == 2 and imported.json()["skipped"] == []
        again = await other.get("/export", headers=elsewhere.headers)
        assert again.text == exported.text  # byte-identical
        twice = await other.post("/import", content=exported.content, headers=elsewhere.headers)
        assert twice.json()["imported"] == [] and len(twice.json()["skipped"]) == 2
        # Imported messages are searchable like any other.
        hits = (await other.get("/search", params={"q": "follow-up"}, headers=elsewhere.headers)).json()
        assert {h["title"] for h in hits} == {"the first conversation"}


async def test_a_bad_import_imports_nothing(api: httpx.AsyncClient) -> None:
    guest = await new_guest(api)
    document = {"format": "codhechat", "version": 2, "conversations": [
        {"title": "fine", "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:00+00:00",
         "messages": [{"role": "user", "content": "hi", "created_at": "2026-01-01T00:00:00+00:00"}]},
        {"title": "bad", "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:00+00:00",
         "messages": [{"role": "user", "content": "nul \x00 inside", "created_at": "2026-01-01T00:00:00+00:00"}]},
    ]}  # fmt: skip
    refused = await api.post("/import", json=document, headers=guest.headers)
    assert refused.status_code == 422 and "NUL" in refused.json()["detail"]
    document["conversations"][1]["messages"][0] = {"role": "assistant", "content": "ok", "prompt_tokens": 2**40,
                                                   "created_at": "0001-01-01T00:00:00+00:00"}  # fmt: skip
    too_many = await api.post("/import", json=document, headers=guest.headers)
    assert too_many.status_code == 422 and "token count" in too_many.json()["detail"]
    document["conversations"][1]["created_at"] = "0001-01-01T00:00:00+05:00"  # before year 1 in UTC
    assert (await api.post("/import", json=document, headers=guest.headers)).status_code == 422
    assert (await api.post("/import", content=b"{not json", headers=guest.headers)).status_code == 422
    assert (await api.post("/import", json={"format": "other"}, headers=guest.headers)).status_code == 422
    assert (await api.get("/conversations/", headers=guest.headers)).json() == []
    assert (await api.post("/import", json=document)).status_code == 401


async def test_search_uses_the_databases_full_text_index(server: ServerThread) -> None:
    """FTS5 on SQLite, a GIN index over to_tsvector on PostgreSQL (migration 0003)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(server.settings.async_database_url)
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                query = "select sql from sqlite_master where name = 'messages_fts'"
                assert "USING FTS5" in str(await connection.scalar(text(query))).upper()
            else:
                query = "select indexdef from pg_indexes where indexname = 'ix_messages_search'"
                definition = str(await connection.scalar(text(query)))
                assert "USING gin" in definition and "to_tsvector" in definition
    finally:
        await engine.dispose()
