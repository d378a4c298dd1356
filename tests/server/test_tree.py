"""The server's message tree over the wire, on SQLite and PostgreSQL: the `regenerate` and
`edit` frames, the tree routes, what the model is sent, the classic history that shows
only the current path, refusals; and the migration that makes old conversations one path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from codhechat.protocol import CONVERSATION_NOT_FOUND, INVALID_PAYLOAD
from codhechat.protocol.branches import EditFrame, RegenerateFrame
from tests.fake_openai import Fail, FakeOpenAI, Reply
from tests.server.conftest import Guest, ServerThread, ask, collect, new_guest, open_ws, recv


async def send(ws: ClientConnection, frame: RegenerateFrame | EditFrame) -> list[dict[str, Any]]:
    await ws.send(frame.encode())
    return await collect(ws, frame.request_id)


async def history(api: httpx.AsyncClient, guest: Guest, conversation_id: int) -> list[str]:
    response = await api.get(f"/conversations/{conversation_id}/messages/", headers=guest.headers)
    assert response.status_code == 200
    return [m["content"] for m in response.json()]


async def tree(api: httpx.AsyncClient, guest: Guest, conversation_id: int) -> dict[str, Any]:
    response = await api.get(f"/conversations/{conversation_id}/tree", headers=guest.headers)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def sent(fake_openai: FakeOpenAI) -> list[str]:
    return [m["content"] for m in fake_openai.last_messages if m["role"] != "system"]


async def test_regenerate_and_edit_make_branches_and_the_classic_history_is_the_current_path(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    assert {"branches", "regenerate", "edit"} <= set((await api.get("/extensions")).json()["extensions"])
    ws = await open_ws(server, guest.token, query="stream=delta")
    try:
        frames = await ask(ws, "q")
        conversation_id = frames[-1]["conversationId"]
        fake_openai.enqueue(Reply("second"))
        frames = await send(ws, RegenerateFrame(request_id="g1", conversation_id=conversation_id))
        assert frames[0]["type"] == "started" and frames[-1]["type"] == "complete"
        assert "".join(f.get("delta", "") for f in frames) == "second"
        assert sent(fake_openai) == ["q"]  # not the first answer
        assert await history(api, guest, conversation_id) == ["q", "second"]

        question = (await tree(api, guest, conversation_id))["messages"][0]
        fake_openai.enqueue(Reply("to q2"))
        edit = EditFrame(request_id="e1", conversation_id=conversation_id, message_id=question["id"], message="q2")
        frames = await send(ws, edit)
        assert frames[0]["type"] == "started" and frames[0]["userMessageId"] != question["id"]
        assert sent(fake_openai) == ["q2"]
        assert await history(api, guest, conversation_id) == ["q2", "to q2"]

        whole = await tree(api, guest, conversation_id)
        parents = {m["content"]: m["parent_id"] for m in whole["messages"]}
        ids = {m["content"]: m["id"] for m in whole["messages"]}
        assert parents == {"q": None, "Echo: q": ids["q"], "second": ids["q"], "q2": None, "to q2": ids["q2"]}
        assert whole["current_leaf"] == ids["to q2"]

        # Back to the first question: the path comes back as it was last shown (the second answer).
        switched = await api.put(f"/conversations/{conversation_id}/branch", json={"message_id": ids["q"]},
                                 headers=guest.headers)  # fmt: skip
        assert switched.status_code == 200 and switched.json()["current_leaf"] == ids["second"]
        assert await history(api, guest, conversation_id) == ["q", "second"]
        listed = (await api.get("/conversations/", headers=guest.headers)).json()
        assert [m["content"] for m in listed[0]["messages"]] == ["q", "second"]
        # A classic chat frame continues the path shown, and the model sees only it.
        fake_openai.enqueue(Reply("fine"))
        await ask(ws, "next", request_id="r2", conversation_id=conversation_id)
        assert sent(fake_openai) == ["q", "second", "next"]

        # A regenerate that gets no text at all leaves the path on the reply it would sit beside.
        fake_openai.enqueue(Fail(500))
        frames = await send(ws, RegenerateFrame(request_id="g2", conversation_id=conversation_id))
        assert frames[-1]["type"] == "error"
        assert await history(api, guest, conversation_id) == ["q", "second", "next", "fine"]

        deleted = await api.delete(f"/conversations/{conversation_id}/messages/{ids['q']}", headers=guest.headers)
        assert deleted.status_code == 200 and deleted.json()["deleted"] == 5
        assert await history(api, guest, conversation_id) == ["q2", "to q2"]
    finally:
        await ws.close()


async def test_branch_requests_are_refused_clearly(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI
) -> None:
    ws = await open_ws(server, guest.token, query="stream=delta")
    try:
        frames = await ask(ws, "mine")
        conversation_id = frames[-1]["conversationId"]
        reply_id = frames[-1]["messageId"]
        edit = EditFrame(request_id="e1", conversation_id=conversation_id, message_id=reply_id, message="no")
        assert (await send(ws, edit))[-1]["detail"] == "Only your own messages in this conversation can be edited."
        await ws.send(json.dumps({"type": "regenerate", "request_id": "g1"}))
        frame = await recv(ws)
        assert frame["detail"] == INVALID_PAYLOAD and "conversation_id must be an integer" in frame["reason"]
        await ws.send(json.dumps({"type": "edit", "request_id": "e2", "conversation_id": conversation_id,
                                  "message": "x"}))  # fmt: skip
        assert "message_id must be an integer" in (await recv(ws))["reason"]
    finally:
        await ws.close()

    other = await new_guest(api)  # someone else's conversation is no conversation at all
    ws = await open_ws(server, other.token, query="stream=delta")
    try:
        frames = await send(ws, RegenerateFrame(request_id="g9", conversation_id=conversation_id))
        assert frames[-1]["detail"] == CONVERSATION_NOT_FOUND
        for method, path, body in (("GET", "tree", None), ("PUT", "branch", {"message_id": reply_id})):
            response = await api.request(method, f"/conversations/{conversation_id}/{path}", json=body,
                                         headers=other.headers)  # fmt: skip
            assert response.status_code == 404
        response = await api.delete(f"/conversations/{conversation_id}/messages/{reply_id}", headers=other.headers)
        assert response.status_code == 404
    finally:
        await ws.close()
    assert await history(api, guest, conversation_id) == ["mine", "Echo: mine"]


def test_the_migration_makes_every_existing_conversation_one_path(tmp_path: Path) -> None:
    """A database written before the tree (revision 0003) loses nothing: each conversation
    becomes one path in the order written, its newest message the current leaf."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from codhechat.server.db import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)

    def upgrade(to: str) -> None:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, to)

    upgrade("0003")
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute(
        "insert into users (id, username, is_guest, created_at, token_version) values (1, 'u', 0, '2025-01-01', 0)"
    )
    for conversation in (1, 2):
        db.execute("insert into conversations (id, user_id, name, created_at, updated_at) "
                   "values (?, 1, 'c', '2025-01-01', '2025-01-01')", [conversation])  # fmt: skip
    for message_id, conversation in ((1, 1), (2, 1), (3, 2), (4, 1), (5, 2)):
        db.execute("insert into messages (id, conversation_id, role, content, status, timestamp) "
                   "values (?, ?, 'user', ?, 'complete', '2025-01-01')", [message_id, conversation, f"m{message_id}"])  # fmt: skip
    db.commit()
    db.close()
    upgrade("head")
    engine.dispose()
    db = sqlite3.connect(tmp_path / "old.db")
    assert db.execute("select id, parent_id from messages order by id").fetchall() == [
        (1, None), (2, 1), (3, None), (4, 2), (5, 3)
    ]  # fmt: skip
    assert db.execute("select id, current_leaf from conversations order by id").fetchall() == [(1, 4), (2, 5)]
    # The full-text index still follows new messages (its triggers survived the migration).
    db.execute("insert into messages (id, conversation_id, role, content, status, timestamp) "
               "values (6, 1, 'user', 'zebra', 'complete', '2025-01-01')")  # fmt: skip
    assert db.execute("select rowid from messages_fts where messages_fts match 'zebra'").fetchall() == [(6,)]
    db.close()
