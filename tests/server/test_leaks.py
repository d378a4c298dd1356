"""Leaks and input (issue 9, items 7-10): upstream error text and secrets never reach a
guest or the log, database errors log no parameters, hostile input is a 422, and log
masking cannot be dodged by percent-encoding."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from codhechat.server.db import make_engine
from codhechat.server.logs import JsonFormatter
from tests.fake_openai import Fail, FakeOpenAI
from tests.server.conftest import Guest, ServerThread, ask, new_guest, open_ws

MODEL_KEY = "sk-test-" + "k3y" * 8


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(JsonFormatter().format(r) for r in caplog.records)


# -- item 7: upstream errors ------------------------------------------------------------------
async def test_a_model_error_that_echoes_the_key_reaches_nobody(
    make_server,
    fake_openai: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.INFO)
    server: ServerThread = make_server(openai_api_key=MODEL_KEY)
    fake_openai.enqueue(Fail(401, echo_auth=True), Fail(401, echo_auth=True))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        guest = await new_guest(client)
        async with await open_ws(server, guest.token) as ws:
            [error] = await ask(ws, "hello")
        rest = await client.post("/chat/completions", json={"message": "hello"}, headers=guest.headers)
    assert f"Bearer {MODEL_KEY}" in fake_openai.requests[0]["headers"]["authorization"]  # it was echoed...
    told = "The model endpoint rejected the API key (401) configured on this server; the server's operator must fix it."
    assert error == {"type": "error", "requestId": "r1", "detail": told}  # ...but not to the guest
    assert rest.status_code == 502 and rest.json() == {"detail": told}
    logged = log_text(caplog)
    assert "Incorrect API key provided" in logged and "You sent: Bearer ***" in logged  # the detail, masked
    assert MODEL_KEY not in logged and "k3yk3y" not in logged


# -- item 8: no SQL parameters in errors ---------------------------------------------------------
async def test_database_errors_name_no_parameters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
        with pytest.raises(Exception) as failed:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (id, body) VALUES (1, :a), (1, :b)"),
                                   {"a": "private words", "b": "more of them"})  # fmt: skip
    finally:
        await engine.dispose()
    assert "UNIQUE constraint failed" in str(failed.value)
    assert "private words" not in str(failed.value) and "more of them" not in str(failed.value)


# -- item 9: hostile input is a 422 ------------------------------------------------------------------
HUGE = [2**31, 2**63, 10**30]


@pytest.mark.parametrize("number", HUGE, ids=["2^31", "2^63", "10^30"])
async def test_huge_integers_are_422_not_500(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, number: int
) -> None:
    h = guest.headers
    for response in (
        await api.get(f"/conversations/{number}", headers=h),
        await api.get(f"/conversations/{number}/messages/", headers=h),
        await api.patch(f"/conversations/{number}", json={"name": "x"}, headers=h),
        await api.delete(f"/conversations/{number}", headers=h),
        await api.get("/conversations/", params={"skip": number}, headers=h),
        await api.get("/conversations/", params={"limit": number}, headers=h),
        await api.get(f"/users/{number}", headers=h),
        await api.post(f"/users/{number}/conversations/", json={"name": "x"}, headers=h),
        await api.post("/chat/completions", json={"message": "hi", "conversation_id": number}, headers=h),
    ):
        assert response.status_code == 422, (response.request.url, response.text)
    async with await open_ws(server, guest.token) as ws:
        await ws.send(json.dumps({"request_id": "r", "message": "hi", "conversation_id": number}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert error["detail"] == "Invalid payload format" and "conversation_id" in error["reason"]


@pytest.mark.parametrize("bad", ["nul\x00byte", "lone \ud800 surrogate"], ids=["nul", "surrogate"])
async def test_unstorable_text_is_422_and_never_logged(
    server: ServerThread, api: httpx.AsyncClient, guest: Guest, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    h = {**guest.headers, "content-type": "application/json"}
    conversation = await api.post(f"/users/{guest.user_id}/conversations/", json={"name": "ok"}, headers=guest.headers)

    def body(payload: object) -> str:
        return json.dumps(payload, ensure_ascii=True)  # JSON escapes: "\ud800"

    for response in (
        await api.post("/chat/completions", content=body({"message": bad}), headers=h),
        await api.post(f"/users/{guest.user_id}/conversations/", content=body({"name": bad}), headers=h),
        await api.patch(f"/conversations/{conversation.json()['id']}", content=body({"name": bad}), headers=h),
        await api.post("/users/", content=body({"username": "valid_name", "password": bad + "long enough"}), headers=h),
        await api.post("/auth/refresh", content=body({"refresh_token": bad}), headers=h),
        await api.post("/chat/completions", content=body({"message": 5, "junk": bad}), headers=h),
    ):
        assert response.status_code in (401, 422), (response.request.url, response.text)
        response.json()  # a well-formed body, whatever the input held
    form = "username=nobody&password=" + quote(bad, errors="surrogatepass")  # the raw bytes, percent-encoded
    login = await api.post("/token", content=form, headers={"content-type": "application/x-www-form-urlencoded"})
    assert login.status_code in (401, 422)
    async with await open_ws(server, guest.token) as ws:
        await ws.send(json.dumps({"request_id": "r", "message": bad}, ensure_ascii=True))
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert error["detail"] == "Invalid payload format"
        assert (await ask(ws, "still fine"))[-1]["type"] == "complete"
    logged = log_text(caplog)
    assert "Exception" not in logged and "Traceback" not in logged
    assert "byte" not in logged and "surrogate" not in logged.replace("unpaired surrogate", "")


# -- item 10: masking cannot be dodged -----------------------------------------------------------------
@pytest.mark.parametrize("query", ["tok%65n={t}", "%74oken={t}", "x=1&access%5Ftoken={t}", "anything={t}"])
async def test_a_token_in_the_query_is_masked_however_it_is_spelled(
    server: ServerThread, guest: Guest, caplog: pytest.LogCaptureFixture, query: str
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="uvicorn.error")  # where uvicorn logs "WebSocket <path>"
    url = f"{server.ws_url}?{query.format(t=guest.token)}"
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers=guest.headers, open_timeout=10) as ws:
        assert (await ask(ws, "masked?"))[-1]["type"] == "complete"
    logged = log_text(caplog)
    assert "WebSocket /ws?" in logged  # uvicorn did log the path...
    assert guest.token not in logged and guest.token.split(".")[2] not in logged  # ...without the token
