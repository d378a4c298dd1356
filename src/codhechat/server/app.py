"""`create_app(settings)`: everything an instance owns is made in its lifespan."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codhechat import __version__
from codhechat.llm import ModelClient
from codhechat.server.db import make_engine, make_sessionmaker, migrate
from codhechat.server.deps import AppContext
from codhechat.server.limits import RateLimiter, SocketRegistry
from codhechat.server.logs import mask_uvicorn_logs
from codhechat.server.routes import auth, chat, conversations, health, users, ws
from codhechat.server.service import ChatService
from codhechat.server.settings import ServerSettings

log = logging.getLogger("codhechat.server")


class BodyLimit:
    """Answer 413 to a request body larger than `max_bytes` (declared or streamed)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
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
            if size > self.max_bytes:
                await self._reject(send)
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

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": f"Request body larger than {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app(settings: ServerSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.async_database_url)
        try:
            if settings.migrate_on_start:
                await migrate(engine)
            model = ModelClient(
                api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
                base_url=settings.openai_base_url,
                timeout=settings.model_timeout,
                max_retries=settings.model_max_retries,
            )
            sessions = make_sessionmaker(engine)
            app.state.ctx = AppContext(
                settings=settings,
                engine=engine,
                sessions=sessions,
                model=model,
                chat=ChatService(settings=settings, sessions=sessions, model=model),
                auth_limiter=RateLimiter(limit=settings.auth_rate_limit, window=settings.auth_rate_window),
                sockets=SocketRegistry(
                    total=settings.max_ws_connections, per_user=settings.max_ws_connections_per_user
                ),
            )
            log.info(
                "server ready",
                extra={"database": engine.url.get_backend_name(), "model": settings.model_name,
                       "model_configured": settings.model_configured},
            )  # fmt: skip
            try:
                yield
            finally:
                await model.aclose()
        finally:
            await engine.dispose()

    mask_uvicorn_logs()
    app = FastAPI(title="codhechat server", version=__version__, lifespan=lifespan)
    for module in (auth, users, conversations, chat, ws, health):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Total-Count"],
        )
    return app


