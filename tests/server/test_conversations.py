"""Conversations and messages over REST: legacy shapes, paging, rename/delete, ownership."""

from __future__ import annotations

from datetime import datetime

import httpx

from tests.server.conftest import Guest, new_guest


async def make_conversation(api: httpx.AsyncClient, guest: Guest, name: str) -> dict:
    response = await api.post(f"/users/{guest.user_id}/conversations/", json={"name": name}, headers=guest.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def chat(api: httpx.AsyncClient, guest: Guest, message: str, conversation_id: int | None = None) -> dict:
    response = await api.post(
        "/chat/completions", json={"message": message, "conversation_id": conversation_id}, headers=guest.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_create_for_yourself_only(api: httpx.AsyncClient, guest: Guest) -> None:
    body = await make_conversation(api, guest, "Plans")
    assert set(body) == {"id", "name", "created_at", "messages"}
    assert body["name"] == "Plans" and body["messages"] == []
    datetime.fromisoformat(body["created_at"])
    other = await new_guest(api)
    refused = await api.post(f"/users/{other.user_id}/conversations/", json={"name": "x"}, headers=guest.headers)
    assert refused.status_code == 403


async def test_list_legacy_shape_with_messages(api: httpx.AsyncClient, guest: Guest) -> None:
    first = await chat(api, guest, "hello there")
    listed = await api.get("/conversations/", headers=guest.headers)
    assert listed.status_code == 200
    [conversation] = listed.json()
    assert set(conversation) == {"id", "name", "created_at", "messages"}
    assert conversation["id"] == first["conversation_id"] and conversation["name"] == "hello there"
    roles = [(m["role"], m["content"]) for m in conversation["messages"]]
    assert roles == [("user", "hello there"), ("assistant", "Echo: hello there")]
    for message in conversation["messages"]:
        assert {"id", "role", "content", "timestamp"} <= set(message)
        datetime.fromisoformat(message["timestamp"])


async def test_list_without_messages_newest_first_and_paged_past_100(api: httpx.AsyncClient, guest: Guest) -> None:
    ids = [(await make_conversation(api, guest, f"c{i}"))["id"] for i in range(105)]
    slim = await api.get("/conversations/?include_messages=false&limit=100", headers=guest.headers)
    assert slim.status_code == 200 and slim.headers["x-total-count"] == "105"
    page = slim.json()
    assert len(page) == 100
    assert set(page[0]) == {"id", "name", "created_at", "updated_at", "pinned_at", "model", "system_prompt"}
    assert [c["id"] for c in page] == ids[::-1][:100]
    rest = await api.get("/conversations/?include_messages=false&skip=100&limit=100", headers=guest.headers)
    assert [c["id"] for c in rest.json()] == ids[::-1][100:]
    # limit above 100 is capped, not refused
    capped = await api.get("/conversations/?limit=500", headers=guest.headers)
    assert capped.status_code == 200 and len(capped.json()) == 100
    assert (await api.get("/conversations/?limit=0", headers=guest.headers)).status_code == 422


async def test_messages_paging(api: httpx.AsyncClient, guest: Guest) -> None:
    conversation_id = (await chat(api, guest, "m0"))["conversation_id"]
    for i in range(1, 60):
        await chat(api, guest, f"m{i}", conversation_id)  # 120 messages
    url = f"/conversations/{conversation_id}/messages/"
    first = await api.get(url, headers=guest.headers)
    assert first.headers["x-total-count"] == "120"
    page1 = first.json()
    assert len(page1) == 100 and [m["id"] for m in page1] == sorted(m["id"] for m in page1)
    assert page1[0]["content"] == "m0" and page1[0]["role"] == "user"
    assert set(page1[0]) == {
        "id",
        "role",
        "content",
        "timestamp",
        "status",
        "model",
        "prompt_tokens",
        "completion_tokens",
    }
    page2 = (await api.get(url, params={"skip": 100}, headers=guest.headers)).json()
    assert len(page2) == 20 and page2[-1]["content"] == "Echo: m59"
    # `before`: the page just before an id, still in id order
    last_ids = [m["id"] for m in page1 + page2]
    tail = (await api.get(url, params={"before": last_ids[-1], "limit": 3}, headers=guest.headers)).json()
    assert [m["id"] for m in tail] == last_ids[-4:-1]


async def test_rename_and_delete(api: httpx.AsyncClient, guest: Guest) -> None:
    conversation_id = (await chat(api, guest, "to be renamed"))["conversation_id"]
    renamed = await api.patch(f"/conversations/{conversation_id}", json={"name": "  New name "}, headers=guest.headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "New name"
    one = await api.get(f"/conversations/{conversation_id}", headers=guest.headers)
    assert one.json()["name"] == "New name"
    assert (
        await api.patch(f"/conversations/{conversation_id}", json={"name": "  "}, headers=guest.headers)
    ).status_code == 422
    deleted = await api.delete(f"/conversations/{conversation_id}", headers=guest.headers)
    assert deleted.status_code == 204
    assert (await api.get(f"/conversations/{conversation_id}/messages/", headers=guest.headers)).status_code == 404
    assert (await api.get("/conversations/", headers=guest.headers)).json() == []
    assert (await api.delete(f"/conversations/{conversation_id}", headers=guest.headers)).status_code == 404


async def test_another_users_conversation_is_a_404(api: httpx.AsyncClient, guest: Guest) -> None:
    mine = (await chat(api, guest, "private words"))["conversation_id"]
    other = await new_guest(api)
    for method, url, body in [
        ("GET", f"/conversations/{mine}/messages/", None),
        ("GET", f"/conversations/{mine}", None),
        ("PATCH", f"/conversations/{mine}", {"name": "stolen"}),
        ("DELETE", f"/conversations/{mine}", None),
        ("POST", "/chat/completions", {"message": "hi", "conversation_id": mine}),
    ]:
        response = await api.request(method, url, json=body, headers=other.headers)
        assert response.status_code == 404, (method, url)
        assert "private words" not in response.text
    assert (await api.get("/conversations/", headers=other.headers)).json() == []
    # ...and it is untouched
    messages = (await api.get(f"/conversations/{mine}/messages/", headers=guest.headers)).json()
    assert [m["content"] for m in messages] == ["private words", "Echo: private words"]
    assert (await api.get("/conversations/999999/messages/", headers=guest.headers)).status_code == 404


async def test_search_finds_only_the_callers_messages_on_both_databases(api, server, fake_openai) -> None:
    from tests.server.conftest import new_guest

    mine, theirs = await new_guest(api), await new_guest(api)
    for guest, text in ((mine, "the kestrel hovers"), (theirs, "a kestrel of theirs")):
        response = await api.post("/chat/completions", json={"message": text}, headers=guest.headers)
        assert response.status_code == 200, response.text
    assert (await api.get("/extensions")).json()["extensions"][:3] == ["rename", "delete", "search"]
    hits = (await api.get("/search", params={"q": "kestrels hovering"}, headers=mine.headers)).json()
    assert {h["title"] for h in hits} == {"the kestrel hovers"}  # stemmed, every word, only mine
    assert all("\x02" in h["snippet"] for h in hits)
    assert (await api.get("/search", params={"q": "nothingmatches"}, headers=mine.headers)).json() == []
    assert (await api.get("/search", params={"q": "x"})).status_code == 401
