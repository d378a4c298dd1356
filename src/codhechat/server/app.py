"""`create_app(settings)`: everything an instance owns is made in its lifespan.

`uvicorn_options(settings)` is how the app must be served (the CLI and the tests
both use it): uvicorn's own proxy-header handling is off, because it believes
X-Forwarded-For from loopback by default; the app believes it only from
FORWARDED_ALLOW_IPS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from codhechat import __version__
from codhechat.server.db import (
    RETRY_AFTER_S,
    DatabaseUnavailable,
    is_conflict,
    is_database_failure,
    make_engine,
    make_sessionmaker,
    migrate,
)
from codhechat.server.deps import AppContext
from codhechat.server.limits import Limits
from codhechat.server.limits_pg import DatabaseLimits
from codhechat.server.logs import add_secret, mask_uvicorn_logs
from codhechat.server.model_stream import LeanModelClient
from codhechat.server.routes import (
    archive,
    attachments,
    auth,
    branches,
    chat,
    conversation_options,
    conversations,
    extensions,
    health,
    users,
    ws,
)
from codhechat.server.routes.ws import ABORT_KEY, RELEASE_KEY
from codhechat.server.service import BUSY, ChatService
from codhechat.server.settings import ServerSettings
from codhechat.server.ws_deflate import SansIOProtocol

log = logging.getLogger("codhechat.server")


def uvicorn_options(settings: ServerSettings) -> dict[str, Any]:
    return {
        "ws_max_size": max(settings.max_frame_bytes * 4, 1 << 20),
        "ws_per_message_deflate": settings.ws_per_message_deflate,
        "ws": SansIOProtocol,  # its compressor only while a socket sends: server/ws_deflate.py
        "proxy_headers": False,  # see the module docstring: ProxyHeadersMiddleware below instead
        "log_config": None,
    }


class ExposeAbort:
    """Give the WebSocket route a way to drop the TCP connection of a client that stopped
    reading: uvicorn's transport otherwise waits forever to flush the frames queued for it;
    and, with server/ws_deflate.py's protocol, to drop the compressor of an idle socket.
    Outermost, so it sees the server's own `send` (a method of uvicorn's protocol)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None and hasattr(transport, "abort"):
                scope[ABORT_KEY] = transport.abort
            release = getattr(getattr(send, "__self__", None), "release_compression", None)
            if release is not None:
                scope[RELEASE_KEY] = release
        await self.app(scope, receive, send)


class BodyLimit:
    """Answer 413 to a request body larger than `max_bytes` (declared or streamed)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # path -> its own limit (an upload, a whole export to import)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        max_bytes = self.larger.get(scope.get("path", ""), self.max_bytes)
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(send, max_bytes)
            return
        if declared is not None or b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        # A chunked body: read it (up to the limit) before the app sees it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > max_bytes:
                await self._reject(send, max_bytes)
                return
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, max_bytes: int) -> None:
        body = json.dumps({"detail": f"Request body larger than {max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _printable(value: Any) -> Any:
    """A validation error's location or message, safe to encode (no lone surrogates)."""
    return value.encode("utf-8", "replace").decode() if isinstance(value, str) else value


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 shape without `input`/`ctx`: the default echoes the raw input, and
    crashes (500, the input in the log) when it holds a lone surrogate."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"type": e.get("type"), "loc": [_printable(p) for p in e.get("loc", ())], "msg": _printable(e.get("msg"))}
        for e in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": errors})


async def database_failed(request: Request, exc: Exception) -> JSONResponse:
    """503 + Retry-After while the database is down or locked; 409 for a write that a
    concurrent delete made impossible. The statement's parameters are never logged."""
    if is_conflict(exc):
        return JSONResponse(status_code=409, content={"detail": "A concurrent change got in the way; try again."})
    if is_database_failure(exc):
        log.warning("request failed: database unavailable", extra={"path": request.url.path,
                                                                    "error": type(exc).__name__})  # fmt: skip
        return JSONResponse(status_code=503, content={"detail": BUSY}, headers={"Retry-After": str(RETRY_AFTER_S)})
    log.error("request failed", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse(status_code=500, content={"detail": "Internal Server Error"})


def create_app(settings: ServerSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.async_database_url, pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow, timeout=settings.db_timeout,
        )  # fmt: skip
        health_engine = make_engine(settings.async_database_url, pool_size=1, max_overflow=0, timeout=5.0)
        try:
            if settings.migrate_on_start:
                await migrate(engine)
            api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
            add_secret(api_key)
            model = LeanModelClient(  # the SDK's stream costs twice the CPU: see server/model_stream.py
                api_key=api_key,
                base_url=settings.openai_base_url,
                timeout=settings.model_timeout,
                max_retries=settings.model_max_retries,
            )
            sessions = make_sessionmaker(engine)
            shared = engine.dialect.name == "postgresql"
            limits = DatabaseLimits(settings, engine) if shared else Limits(settings)
            await limits.start()
            app.state.ctx = AppContext(
                settings=settings,
                engine=engine,
                health_engine=health_engine,
                sessions=sessions,
                model=model,
                chat=(chat_service := ChatService(settings=settings, sessions=sessions, model=model)),
                limits=limits,
            )
            log.info(
                "server ready",
                extra={"database": engine.url.get_backend_name(), "model": settings.model_name,
                       "model_configured": settings.model_configured, "shared_limits": shared},
            )  # fmt: skip
            try:
                yield
            finally:
                await chat_service.close()
                await limits.stop()
                await model.aclose()
        finally:
            await health_engine.dispose()
            await engine.dispose()

    mask_uvicorn_logs()
    app = FastAPI(title="codhechat server", version=__version__, lifespan=lifespan)
    for module in (
        auth,
        users,
        conversations,
        branches,
        chat,
        ws,
        health,
        extensions,
        conversation_options,
        archive,
        attachments,
    ):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, invalid_request)
    for failure in (SQLAlchemyError, DatabaseUnavailable, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(failure, database_failed)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       larger={"/import": settings.max_import_mb * 1024 * 1024,
                               attachments.UPLOAD_PATH: int(settings.attachment_max_mb * 1024 * 1024)})  # fmt: skip
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Total-Count"],
        )
    if settings.forwarded_allow_ips:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    app.add_middleware(ExposeAbort)
    return app
