"""A loopback server that speaks exactly ../shared/protocol.md, and nothing more.

No extensions: `/ws` reads the token from `?token=` only (a header is ignored, so a
client that sends only the header is closed with 1008), chunks carry the WHOLE reply so
far in `content`, there is no `started`, `cancel`, `delta`, `/auth/refresh`,
`include_messages`, `X-Total-Count`, `before=` or message `status`. Conversations are
listed oldest first (the protocol leaves the order to the client). Replies come from an
OpenAI-compatible model (the loopback FakeOpenAI) through codhechat's ModelClient.

Frames, close codes and limits come from codhechat.protocol (its docstring lists how a
classic server differs), so this server and the client cannot drift apart on a literal.

Test hooks: `inject(text)` sends a raw frame to every open socket, `drop_sockets()`
closes them all (code 1011), `tamper(path, body)` answers every HTTP request for `path`
with that raw body (a hostile or broken server), `token_minutes` sets the token lifetime.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from codhechat.errors import ModelError
from codhechat.llm import ModelClient
from codhechat.protocol import (
    CONVERSATION_NOT_FOUND,
    INVALID_PAYLOAD,
    MAX_MESSAGE_CHARS,
    PAGE_LIMIT,
    POLICY_VIOLATION,
    TITLE_CHARS,
    TRY_AGAIN_LATER,
    ChatFrame,
    CompleteFrame,
    ContentChunk,
    ErrorFrame,
)
from tests.support.served import Served

TOKENS = re.compile(r"\S+\s*|\s+")  # a word and the space after it, as the fake model streams them

SECRET = "classic-secret-" + "y" * 40


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _title(message: str) -> str:
    return message if len(message) <= TITLE_CHARS else message[: TITLE_CHARS - 3] + "..."


@dataclass
class _Conversation:
    id: int
    user: str
    name: str
    created_at: str = field(default_factory=_now)
    messages: list[dict[str, Any]] = field(default_factory=list)


class ClassicServer:
    def __init__(self, model_url: str | None, *, token_minutes: float = 30.0) -> None:
        self.model = ModelClient(api_key=None, base_url=model_url, timeout=1.0, max_retries=0) if model_url else None
        self.token_minutes = token_minutes
        self.users: dict[str, str] = {}  # username -> password
        self.conversations: dict[int, _Conversation] = {}
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self.sockets: set[WebSocket] = set()
        self.handshake_headers: list[dict[str, str]] = []
        self.tampered: dict[str, tuple[int, bytes]] = {}  # path -> (status, raw body)
        self.app = Starlette(
            routes=[
                Route("/auth/guest", self.guest, methods=["POST"]),
                Route("/users/", self.register, methods=["POST"]),
                Route("/token", self.login, methods=["POST"]),
                Route("/conversations/", self.list_conversations, methods=["GET"]),
                Route("/conversations/{cid:int}/messages/", self.list_messages, methods=["GET"]),
                WebSocketRoute("/ws", self.ws),
            ]
        )
        self.served = Served(self._tampering(self.app), name="classic-server", ws_max_size=1 << 24, start_timeout=10)

    # lifecycle
    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self.served.loop

    def start(self) -> ClassicServer:
        self.served.start()
        return self

    def stop(self) -> None:
        self.served.stop()

    @property
    def url(self) -> str:
        return self.served.url

    # test hooks
    def _on_loop(self, coro: Any) -> None:
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)

    def inject(self, text: str) -> None:
        async def send() -> None:
            for ws in list(self.sockets):
                await ws.send_text(text)

        self._on_loop(send())

    def tamper(self, path: str, body: str | bytes, status: int = 200) -> None:
        self.tampered[path] = (status, body.encode() if isinstance(body, str) else body)

    def _tampering(self, app: ASGIApp) -> ASGIApp:
        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] in self.tampered:
                status, body = self.tampered[scope["path"]]
                await Response(body, status, media_type="application/json")(scope, receive, send)
                return
            await app(scope, receive, send)

        return asgi

    def drop_sockets(self) -> None:
        async def close() -> None:
            for ws in list(self.sockets):
                await ws.close(code=1011)

        self._on_loop(close())

    # auth
    def _token(self, username: str) -> str:
        exp = datetime.now(UTC) + timedelta(minutes=self.token_minutes)
        return jwt.encode({"sub": username, "exp": exp}, SECRET, algorithm="HS256")

    def _user(self, token: str | None) -> str | None:
        if not token:
            return None
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"])
        except jwt.PyJWTError:
            return None
        return claims["sub"] if claims.get("sub") in self.users else None

    def _bearer(self, request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return self._user(value) if scheme.lower() == "bearer" else None

    @staticmethod
    def _unauthorized() -> Response:
        return JSONResponse({"detail": "Could not validate credentials"}, 401, {"WWW-Authenticate": "Bearer"})

    async def guest(self, request: Request) -> Response:
        name = f"guest_{len(self.users) + 1}"
        self.users[name] = ""
        return JSONResponse({"access_token": self._token(name), "token_type": "bearer", "user_id": len(self.users)})

    async def register(self, request: Request) -> Response:
        body = await request.json()
        if body["username"] in self.users:
            return JSONResponse({"detail": "Username already registered"}, 400)
        self.users[body["username"]] = body["password"]
        return JSONResponse({"id": len(self.users), "username": body["username"], "conversations": []})

    async def login(self, request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username")), str(form.get("password"))
        if self.users.get(username) != password or not password:
            return JSONResponse({"detail": "Incorrect username or password"}, 401, {"WWW-Authenticate": "Bearer"})
        return JSONResponse({"access_token": self._token(username), "token_type": "bearer"})

    # conversations
    @staticmethod
    def _page(request: Request, items: list[Any]) -> list[Any]:
        skip = int(request.query_params.get("skip", 0))
        limit = min(int(request.query_params.get("limit", PAGE_LIMIT)), PAGE_LIMIT)
        return items[skip : skip + limit]

    async def list_conversations(self, request: Request) -> Response:
        user = self._bearer(request)
        if user is None:
            return self._unauthorized()
        mine = [c for c in self.conversations.values() if c.user == user]  # oldest first
        return JSONResponse([
            {"id": c.id, "name": c.name, "created_at": c.created_at, "messages": c.messages}
            for c in self._page(request, mine)
        ])  # fmt: skip

    async def list_messages(self, request: Request) -> Response:
        user = self._bearer(request)
        if user is None:
            return self._unauthorized()
        conversation = self.conversations.get(request.path_params["cid"])
        if conversation is None or conversation.user != user:
            return JSONResponse({"detail": CONVERSATION_NOT_FOUND}, 404)
        return JSONResponse(self._page(request, conversation.messages))

    def _add(self, conversation: _Conversation, role: str, content: str) -> None:
        conversation.messages.append(
            {"id": next(self._message_ids), "role": role, "content": content, "timestamp": _now()}
        )

    # streaming
    async def ws(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.handshake_headers.append(dict(websocket.headers))
        user = self._user(websocket.query_params.get("token"))
        if user is None:
            await websocket.close(code=POLICY_VIOLATION)
            return
        if self.model is None:
            await websocket.close(code=TRY_AGAIN_LATER)
            return
        self.sockets.add(websocket)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                raw = await websocket.receive_text()
                try:
                    frame = ChatFrame.model_validate_json(raw)  # a classic server knows no `cancel`
                except ValueError:
                    frame = None
                message = frame.message.strip() if frame is not None else ""
                if frame is None or not message or len(message) > MAX_MESSAGE_CHARS:
                    await websocket.send_text(ErrorFrame(detail=INVALID_PAYLOAD).encode())
                    continue
                reply = self._reply(websocket, user, frame.request_id, message, frame.conversation_id)
                task = asyncio.create_task(reply)
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.sockets.discard(websocket)
            for task in tasks:
                task.cancel()

    async def _reply(self, websocket: WebSocket, user: str, request_id: str, message: str,
                     conversation_id: int | None) -> None:  # fmt: skip
        if conversation_id is None:
            conversation = _Conversation(next(self._ids), user, _title(message))
            self.conversations[conversation.id] = conversation
        else:
            found = self.conversations.get(conversation_id)
            if found is None or found.user != user:
                await websocket.send_text(ErrorFrame(request_id=request_id, detail=CONVERSATION_NOT_FOUND).encode())
                return
            conversation = found
        self._add(conversation, "user", message)
        history = [{"role": "system", "content": "You are a helpful assistant."}]
        history += [{"role": m["role"], "content": m["content"]} for m in conversation.messages[-20:]]
        text = ""
        assert self.model is not None
        try:
            async for piece in self.model.stream_chat(history, model="gpt-4o-mini"):
                # A classic server sends a frame per token; the model client hands on tokens that
                # arrived together as one piece (codhechat.coalesce), so they are split back here.
                for token in TOKENS.findall(piece):
                    text += token
                    chunk = ContentChunk(request_id=request_id, conversation_id=conversation.id, content=text)
                    await websocket.send_text(chunk.encode())
        except ModelError as exc:
            await websocket.send_text(ErrorFrame(request_id=request_id, detail=exc.message).encode())
            return
        except (WebSocketDisconnect, RuntimeError, asyncio.CancelledError):
            return  # a classic server keeps nothing of an unfinished reply
        self._add(conversation, "assistant", text)
        await websocket.send_text(CompleteFrame(request_id=request_id, conversation_id=conversation.id).encode())
