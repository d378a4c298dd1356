"""Extension `attachments`: files uploaded with a message reach the model as local mode
sends them (text parts with the file name, image data URLs, a PDF's text), are carried
back in history, kept per user (another user's token gets 404), and capped in size."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.fake_openai import FakeOpenAI
from tests.server.conftest import BACKENDS, Guest, ServerThread, ask, collect, new_guest, open_ws
from tests.support.files import pdf, png


async def upload(api: httpx.AsyncClient, guest: Guest, name: str, data: bytes) -> httpx.Response:
    return await api.post("/attachments", params={"name": name}, content=data, headers=guest.headers)


async def test_files_reach_the_model_as_content_parts_and_stay_in_history(
    api: httpx.AsyncClient, guest: Guest, server: ServerThread, fake_openai: FakeOpenAI
) -> None:
    assert "attachments" in (await api.get("/extensions")).json()["extensions"]
    image = png(3, 2)
    ids = []
    for name, data in (("notes.py", b"print('hi')\n"), ("dot.png", image), ("paper.pdf", pdf("Quarterly figures"))):
        response = await upload(api, guest, name, data)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert response.json()["kind"] == "pdf" and response.json()["message_id"] is None
    async with await open_ws(server, guest.token) as ws:
        await ws.send(json.dumps({"request_id": "a1", "message": "look", "conversation_id": None, "attachments": ids}))
        frames = await collect(ws, "a1")
        assert frames[-1]["type"] == "complete", frames
        conversation_id = frames[-1]["conversationId"]
        [first] = fake_openai.requests
        parts = [
            {"type": "text", "text": "look"},
            {"type": "text", "text": "File notes.py:\n\nprint('hi')\n"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}},
            {"type": "text", "text": "File paper.pdf (the text of a PDF):\n\nQuarterly figures"},
        ]
        assert first["body"]["messages"][-1] == {"role": "user", "content": parts}
        # A later turn sends them again, as history.
        frames = await ask(ws, "and now?", request_id="a2", conversation_id=conversation_id)
        assert frames[-1]["type"] == "complete", frames
    second = fake_openai.requests[1]["body"]["messages"]
    assert {"role": "user", "content": parts} in second and second[-1] == {"role": "user", "content": "and now?"}
    listed = await api.get(f"/conversations/{conversation_id}/attachments", headers=guest.headers)
    assert listed.status_code == 200
    assert [(a["id"], a["name"], a["kind"]) for a in listed.json()] == list(
        zip(ids, ["notes.py", "dot.png", "paper.pdf"], ["text", "image", "pdf"], strict=True)
    )
    user_message = listed.json()[0]["message_id"]
    messages = (await api.get(f"/conversations/{conversation_id}/messages/", headers=guest.headers)).json()
    assert messages[0]["id"] == user_message and messages[0]["content"] == "look"
    back = await api.get(f"/attachments/{ids[1]}", headers=guest.headers)
    assert back.status_code == 200 and back.content == image and back.headers["content-type"] == "image/png"
    # They go with their conversation.
    assert (await api.delete(f"/conversations/{conversation_id}", headers=guest.headers)).status_code == 204
    assert (await api.get(f"/attachments/{ids[1]}", headers=guest.headers)).status_code == 404


async def test_another_users_files_are_not_found(
    api: httpx.AsyncClient, guest: Guest, server: ServerThread, fake_openai: FakeOpenAI
) -> None:
    mine = (await upload(api, guest, "secret.txt", b"mine only")).json()["id"]
    frames = []
    async with await open_ws(server, guest.token) as ws:
        frames = await ask(ws, "hello")
    conversation_id = frames[-1]["conversationId"]
    other = await new_guest(api)
    assert (await api.get(f"/attachments/{mine}", headers=other.headers)).status_code == 404
    assert (await api.get(f"/conversations/{conversation_id}/attachments", headers=other.headers)).status_code == 404
    # Nor can another user send it with a message of theirs: the model never sees it.
    async with await open_ws(server, other.token) as ws:
        await ws.send(
            json.dumps({"request_id": "x", "message": "steal", "conversation_id": None, "attachments": [mine]})
        )
        [error] = await collect(ws, "x")
    assert error["type"] == "error" and "not found" in error["detail"]
    assert all("mine only" not in json.dumps(r["body"]) for r in fake_openai.requests)
    assert (await api.get(f"/attachments/{mine}")).status_code == 401


async def test_size_cap_and_kinds(make_server, fake_openai: FakeOpenAI) -> None:
    server = make_server(attachment_max_mb=0.01)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as api:
        guest = await new_guest(api)
        too_big = await upload(api, guest, "big.txt", b"x" * 20_000)
        assert too_big.status_code == 413
        refused = await upload(api, guest, "blob.bin", b"\x00\x01\x02binary")
        assert refused.status_code == 422 and "cannot be sent" in refused.json()["detail"]
        assert (await upload(api, guest, "small.txt", b"x" * 5_000)).status_code == 201


@pytest.mark.parametrize("backend", BACKENDS)
async def test_uploads_never_sent_are_capped_per_user_and_expire(
    make_server, fake_openai: FakeOpenAI, backend: str
) -> None:
    """A user cannot fill the disk with uploads they never send: past attachment_unsent_mb
    their oldest unsent ones go (a sent file never does), and the server keeps no unsent
    upload longer than attachment_unsent_hours."""
    server = make_server(backend, attachment_max_mb=1, attachment_unsent_mb=0.25)
    kib_100 = b"x" * 100_000
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as api:
        guest, other = await new_guest(api), await new_guest(api)
        sent = (await upload(api, guest, "sent.txt", kib_100)).json()["id"]
        async with await open_ws(server, guest.token) as ws:
            await ws.send(
                json.dumps({"request_id": "s", "message": "look", "conversation_id": None, "attachments": [sent]})
            )
            assert (await collect(ws, "s"))[-1]["type"] == "complete"
        theirs = (await upload(api, other, "theirs.txt", kib_100)).json()["id"]
        ids = [(await upload(api, guest, f"{n}.txt", kib_100)).json()["id"] for n in range(4)]

        async def kept(who: Guest, attachment_id: int) -> bool:
            status = (await api.get(f"/attachments/{attachment_id}", headers=who.headers)).status_code
            assert status in (200, 404)
            return status == 200

        assert [await kept(guest, i) for i in ids] == [False, False, True, True]  # 2 x 100 KB fit in 0.25 MB
        assert await kept(guest, sent) and await kept(other, theirs)
        # A message naming an evicted file is refused with what to do; nothing reaches the model.
        before = len(fake_openai.requests)
        async with await open_ws(server, guest.token) as ws:
            await ws.send(
                json.dumps({"request_id": "e", "message": "x", "conversation_id": None, "attachments": [ids[0]]})
            )
            frames = await collect(ws, "e")
        assert frames[-1]["type"] == "error" and "attach it again" in json.dumps(frames[-1]), frames
        assert len(fake_openai.requests) == before
        too_big = await upload(api, guest, "big.txt", b"x" * 300_000)  # under attachment_max_mb, over the quota
        assert too_big.status_code == 413 and "0.25 MB" in too_big.json()["detail"]

    expiring = make_server(backend, attachment_unsent_hours=1e-9)  # every unsent upload is stale at the next one
    async with httpx.AsyncClient(base_url=expiring.url, timeout=10) as api:
        guest, other = await new_guest(api), await new_guest(api)
        first = (await upload(api, guest, "a.txt", b"a")).json()["id"]
        second = (await upload(api, other, "b.txt", b"b")).json()["id"]
        assert (await api.get(f"/attachments/{first}", headers=guest.headers)).status_code == 404  # anyone's
        assert (await api.get(f"/attachments/{second}", headers=other.headers)).status_code == 200
