"""Operations: /health, /, settings, logs (no secrets), body limits, CORS, the CLI seam."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys

import httpx
import pytest

from codhechat.errors import ConfigError
from codhechat.server.logs import JsonFormatter, MaskTokens, PlainFormatter
from codhechat.server.settings import async_database_url, load_server_settings
from tests.fake_openai import Fail, FakeOpenAI, Reply
from tests.server.conftest import Guest, ServerThread, ask, open_ws


async def test_health_ok(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {c["component"]: c["status"] for c in body["checks"]} == {"database": "ok", "chat_service": "ok"}
    assert all(set(c) == {"component", "status", "detail"} for c in body["checks"])


async def test_health_degraded_without_a_model(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(model=False)
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = (await client.get("/health")).json()
    assert body["status"] == "degraded"
    chat = next(c for c in body["checks"] if c["component"] == "chat_service")
    assert chat["status"] == "degraded" and "OPENAI_API_KEY" in chat["detail"]


async def test_health_error_when_the_database_is_gone(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server()
    await server.app.state.ctx.health_engine.dispose()
    server.app.state.ctx.health_engine.sync_engine.pool._creator = _broken  # every new connection fails
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["checks"][0] == {
        "component": "database",
        "status": "error",
        "detail": "unreachable: OperationalError",
    }


def _broken(*_: object) -> None:
    import sqlite3

    raise sqlite3.OperationalError("gone")


async def test_root_page(api: httpx.AsyncClient) -> None:
    response = await api.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "Chatbot server is running" in response.text  # the classic server's words, which its tests check


async def test_body_size_limit(api: httpx.AsyncClient, guest: Guest) -> None:
    big = {"message": "x" * 70_000}
    response = await api.post("/chat/completions", json=big, headers=guest.headers)
    assert response.status_code == 413 and "larger than" in response.json()["detail"]

    async def chunked():  # no Content-Length: counted as it streams
        for _ in range(80):
            yield b"x" * 1000

    response = await api.post("/chat/completions", content=chunked(), headers=guest.headers)
    assert response.status_code == 413
    small = await api.post("/chat/completions", content=iter_bytes(json.dumps({"message": "ok"}).encode()),
                           headers={**guest.headers, "content-type": "application/json"})  # fmt: skip
    assert small.status_code == 200, small.text


async def iter_bytes(data: bytes):  # type: ignore[no-untyped-def]
    yield data[:3]
    yield data[3:]


async def test_chat_completions(api: httpx.AsyncClient, guest: Guest, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Reply("Whole reply"))
    first = await api.post(
        "/chat/completions", json={"message": "hello", "conversation_id": None}, headers=guest.headers
    )
    assert first.json() == {"conversation_id": first.json()["conversation_id"], "reply": "Whole reply"}
    again = await api.post(
        "/chat/completions",
        json={"message": "more", "conversation_id": first.json()["conversation_id"]},
        headers=guest.headers,
    )
    assert again.json()["conversation_id"] == first.json()["conversation_id"]
    assert (await api.post("/chat/completions", json={"message": " "}, headers=guest.headers)).status_code == 422
    assert (await api.post("/chat/completions", json={"message": "y" * 5001}, headers=guest.headers)).status_code == 422
    fake_openai.enqueue(Fail(500))
    failed = await api.post("/chat/completions", json={"message": "boom"}, headers=guest.headers)
    assert failed.status_code == 502 and "500" in failed.json()["detail"]
    assert (await api.post("/chat/completions", json={"message": "x"})).status_code == 401


async def test_cors(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(cors_origins="https://chat.example, https://other.example")
    assert server.settings.cors_origins == ["https://chat.example", "https://other.example"]
    async with httpx.AsyncClient(base_url=server.url) as client:
        preflight = await client.options(
            "/conversations/",
            headers={"Origin": "https://chat.example", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://chat.example"
        denied = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in denied.headers


def test_cors_origins_also_read_from_allowed_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    """ALLOWED_ORIGINS is the classic server's name: an existing deployment's settings carry over."""
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://old.example,https://other.example")
    assert load_server_settings().cors_origins == ["https://old.example", "https://other.example"]
    monkeypatch.delenv("ALLOWED_ORIGINS")
    monkeypatch.setenv("CORS_ORIGINS", '["https://new.example"]')
    assert load_server_settings().cors_origins == ["https://new.example"]


# -- settings ----------------------------------------------------------------------
def test_secret_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError) as missing:
        load_server_settings()
    assert "SECRET_KEY is not set" in missing.value.message
    assert "export SECRET_KEY=" in missing.value.hint
    monkeypatch.setenv("SECRET_KEY", "too-short")
    with pytest.raises(ConfigError) as short:
        load_server_settings()
    assert "shorter than 32 bytes" in short.value.message


def test_settings_from_env_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("SECRET_KEY=" + "k" * 40 + "\nMODEL_NAME=from-dotenv\nLOG_JSON=false\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/chat")
    monkeypatch.setenv("CORS_ORIGINS", '["https://a.example"]')
    settings = load_server_settings()
    assert settings.model_name == "from-dotenv" and settings.log_json is False
    assert settings.async_database_url == "postgresql+asyncpg://u:p@db/chat"
    assert settings.cors_origins == ["https://a.example"]
    assert settings.max_ws_connections == 25 and settings.access_token_expire_minutes == 30
    assert not settings.model_configured
    assert "k" * 40 not in repr(settings)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("sqlite:///./chat.db", "sqlite+aiosqlite:///./chat.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://h/db", "postgresql+asyncpg://h/db"),
        ("postgres://h/db", "postgresql+asyncpg://h/db"),
        ("postgresql+psycopg2://h/db", "postgresql+asyncpg://h/db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg_async://h/db"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
    ],
)
def test_database_urls_map_to_async_drivers(url: str, expected: str) -> None:
    assert async_database_url(url) == expected


def test_serve_without_a_secret_says_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from codhechat.server.cli import serve_main

    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert serve_main(argparse.Namespace(host="127.0.0.1", port=0)) == 2
    err = capsys.readouterr().err
    assert "SECRET_KEY is not set" in err and "secrets.token_urlsafe" in err


def test_serve_parser_and_lazy_imports() -> None:
    code = (
        "import sys, json, argparse\n"
        "from codhechat.server.cli import add_serve_parser\n"
        "p = argparse.ArgumentParser(); sub = p.add_subparsers(dest='command')\n"
        "add_serve_parser(sub)\n"
        "a = p.parse_args(['serve', '--host', '0.0.0.0', '--port', '9000'])\n"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'uvicorn', 'starlette', 'jwt') if m in sys.modules]\n"
        "print(json.dumps([a.command, a.host, a.port, heavy]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["serve", "0.0.0.0", 9000, []]


# -- logs ---------------------------------------------------------------------------
def test_uvicorn_lines_have_tokens_masked() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws?token=eyJhbGciOi.secret.sig&stream=delta"), None,
    )  # fmt: skip
    MaskTokens().filter(record)
    line = JsonFormatter().format(record)
    assert "eyJhbGciOi" not in line and "token=***&stream=delta" in json.loads(line)["message"]
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:1", "GET", "/ws?token=abc.def.ghi", "1.1", 101), None,
    )  # fmt: skip
    MaskTokens().filter(access)
    assert "abc.def.ghi" not in PlainFormatter().format(access)


async def test_server_logs_hold_no_tokens_or_message_text(
    server: ServerThread, guest: Guest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret_words = "my very private sentence"
    async with await open_ws(server, guest.token) as ws:
        assert (await ask(ws, secret_words))[-1]["type"] == "complete"
    uvicorn_line = logging.getLogger("uvicorn.error")
    uvicorn_line.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:1", f"/ws?token={guest.token}")
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "reply started" in text  # the server did log the turn...
    assert guest.token not in text and secret_words not in text and "Echo" not in text  # ...but nothing private
    assert server.settings.secret_key.get_secret_value() not in text


def test_plain_and_json_formatters() -> None:
    record = logging.LogRecord("codhechat.server", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    record.user_id = 7
    assert json.loads(JsonFormatter().format(record))["user_id"] == 7
    plain = PlainFormatter().format(record)
    assert "INFO codhechat.server: hello there user_id=7" in plain


def test_migrations_match_the_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The Alembic scripts (shipped inside the package) build exactly the tables models.py declares."""
    import asyncio

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from codhechat.server.db import MIGRATIONS, make_engine, migrate, modelled
    from codhechat.server.models import Base

    assert (MIGRATIONS / "env.py").exists() and list((MIGRATIONS / "versions").glob("0001_*.py"))
    url = f"sqlite:///{tmp_path / 'm.db'}"

    async def upgrade_twice() -> None:
        engine = make_engine(url.replace("sqlite", "sqlite+aiosqlite"))
        await migrate(engine)
        await migrate(engine)  # idempotent
        await engine.dispose()

    asyncio.run(upgrade_twice())
    with create_engine(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": modelled}), Base.metadata)
    assert diff == []
