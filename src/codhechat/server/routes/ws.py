"""`/ws`: streaming chat. Several requests per socket, cancel, opt-in delta streaming.

Legacy frames are sent exactly as protocol.md gives them; the extensions appear
only to a client that connected with `?stream=delta` or sent a `cancel` frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from codhechat.errors import ModelError
from codhechat.server.deps import AppContext, Ctx, user_for_token
from codhechat.server.models import User
from codhechat.server.service import ConversationNotFound, InvalidMessage, Turn, validate_message

router = APIRouter(tags=["ws"])
log = logging.getLogger("codhechat.server.ws")

POLICY_VIOLATION, TRY_AGAIN_LATER = 1008, 1013
INVALID = "Invalid payload format"
MAX_REQUEST_ID = 200
BUSY = "The server is busy (database unavailable); try again shortly"


class BadFrame(ValueError):
    def __init__(self, reason: str, request_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


def _bearer(websocket: WebSocket) -> str | None:
    token = websocket.query_params.get("token")
    if token:
        return token
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket, ctx: Ctx) -> None:
    await websocket.accept()
    try:
        async with ctx.sessions() as session:
            user = await user_for_token(session, ctx, _bearer(websocket))
    except SQLAlchemyError:
        log.exception("socket refused: database unavailable")
        await websocket.close(code=TRY_AGAIN_LATER, reason="The server is busy; try again shortly")
        return
    if user is None:
        await websocket.close(code=POLICY_VIOLATION, reason="Invalid or missing token")
        return
    if not ctx.settings.model_configured:
        await websocket.close(code=TRY_AGAIN_LATER, reason="No model is configured on this server")
        return
    refusal = ctx.sockets.acquire(user.id)
    if refusal is not None:
        log.warning("socket refused", extra={"user_id": user.id, "reason": refusal})
        await websocket.send_text(json.dumps({"type": "error", "detail": refusal}))
        await websocket.close(code=TRY_AGAIN_LATER, reason=refusal[:120])
        return
    delta = websocket.query_params.get("stream") == "delta"
    connection = Connection(websocket, ctx, user, delta=delta)
    log.info("socket opened", extra={"user_id": user.id, "delta": delta})
    try:
        await connection.serve()
    finally:
        ctx.sockets.release(user.id)
        log.info("socket closed", extra={"user_id": user.id})


class Connection:
    def __init__(self, websocket: WebSocket, ctx: AppContext, user: User, *, delta: bool) -> None:
        self.websocket = websocket
        self.ctx = ctx
        self.user_id = user.id
        self.delta = delta
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.cancelled: set[str] = set()
        self._send_lock = asyncio.Lock()

    async def serve(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                raw = message.get("text")
                if raw is None:
                    try:
                        raw = (message.get("bytes") or b"").decode()
                    except UnicodeDecodeError:
                        raw = ""
                await self.handle(raw)
        except WebSocketDisconnect:
            pass
        finally:
            tasks = list(self.tasks.values())
            for task in tasks:
                task.cancel()  # each keeps its partial reply, marked
            await asyncio.gather(*tasks, return_exceptions=True)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))

    async def handle(self, raw: str) -> None:
        try:
            kind, payload = self.parse(raw)
        except BadFrame as bad:
            frame: dict[str, Any] = {"type": "error", "detail": INVALID, "reason": bad.reason}
            if self.delta and bad.request_id is not None:
                frame["requestId"] = bad.request_id
            await self.send(frame)
            return
        if kind == "cancel":
            await self.cancel(payload["request_id"])
            return
        request_id = payload["request_id"]
        if request_id in self.tasks:
            await self.send(
                {"type": "error", "requestId": request_id, "detail": "This request_id is already in progress"}
            )
            return
        limit = self.ctx.settings.max_requests_per_socket
        if len(self.tasks) >= limit:
            await self.send(
                {
                    "type": "error",
                    "requestId": request_id,
                    "detail": f"Too many requests in progress on this connection (at most {limit})",
                }
            )
            return
        task = asyncio.create_task(self.run(request_id, payload["message"], payload["conversation_id"]))
        self.tasks[request_id] = task
        task.add_done_callback(lambda _t, rid=request_id: self._forget(rid, _t))

    def _forget(self, request_id: str, task: asyncio.Task[None]) -> None:
        if self.tasks.get(request_id) is task:
            del self.tasks[request_id]
        self.cancelled.discard(request_id)

    def parse(self, raw: str) -> tuple[str, dict[str, Any]]:
        if len(raw.encode()) > self.ctx.settings.max_frame_bytes:
            raise BadFrame(f"frame larger than {self.ctx.settings.max_frame_bytes} bytes")
        try:
            data = json.loads(raw)
        except ValueError:
            raise BadFrame("not JSON") from None
        if not isinstance(data, dict):
            raise BadFrame("not a JSON object")
        request_id = data.get("request_id", data.get("requestId"))
        if not isinstance(request_id, str) or not request_id or len(request_id) > MAX_REQUEST_ID:
            raise BadFrame(f"request_id must be a non-empty string of at most {MAX_REQUEST_ID} characters")
        kind = data.get("type", "chat")
        if kind == "cancel":
            return "cancel", {"request_id": request_id}
        if kind != "chat":
            raise BadFrame(f"unknown frame type {str(kind)[:40]!r}", request_id)
        try:
            text = validate_message(data.get("message"), limit=self.ctx.settings.max_message_chars)
        except InvalidMessage as exc:
            raise BadFrame(str(exc), request_id) from None
        conversation_id = data.get("conversation_id")
        if conversation_id is not None and (
            not isinstance(conversation_id, int) or isinstance(conversation_id, bool)
        ):
            raise BadFrame("conversation_id must be an integer or null", request_id)
        return "chat", {"request_id": request_id, "message": text, "conversation_id": conversation_id}

    async def cancel(self, request_id: str) -> None:
        task = self.tasks.get(request_id)
        if task is None or task.done():
            await self.send(
                {"type": "error", "requestId": request_id, "detail": "No such request in progress"}
            )
            return
        self.cancelled.add(request_id)
        task.cancel()

    async def run(self, request_id: str, text: str, conversation_id: int | None) -> None:
        chat = self.ctx.chat
        turn: Turn | None = None
        try:
            try:
                turn = await chat.begin(user_id=self.user_id, text=text, conversation_id=conversation_id)
            except ConversationNotFound:
                await self.send({"type": "error", "requestId": request_id, "detail": "Conversation not found"})
                return
            log.info(
                "reply started",
                extra={"user_id": self.user_id, "conversation_id": turn.conversation_id,
                       "request_id": request_id, "chars": len(text)},
            )  # fmt: skip
            head = {"requestId": request_id, "conversationId": turn.conversation_id}
            if self.delta:
                await self.send({"type": "started", **head, "userMessageId": turn.user_message_id})

            async def on_delta(piece: str) -> None:
                assert turn is not None
                if self.delta:
                    await self.send({"type": "chunk", **head, "delta": piece})
                else:
                    await self.send({"type": "chunk", **head, "content": turn.text})

            try:
                await chat.reply(turn, on_delta)
            except ModelError as exc:
                frame = {"type": "error", "requestId": request_id, "detail": chat.public_error(exc)}
                if self.delta:
                    frame |= {"conversationId": turn.conversation_id, "messageId": turn.message_id}
                await self.send(frame)
                return
            done: dict[str, Any] = {"type": "complete", **head}
            if self.delta:
                done |= {"messageId": turn.message_id, "status": turn.status}
            await self.send(done)
        except asyncio.CancelledError:
            if request_id not in self.cancelled:
                raise  # the socket is closing: nothing to tell
            await self.send(
                {
                    "type": "cancelled",
                    "requestId": request_id,
                    "conversationId": turn.conversation_id if turn else None,
                    "messageId": turn.message_id if turn else None,
                }
            )
        except (WebSocketDisconnect, OSError, RuntimeError):
            log.info("client went away mid-reply", extra={"request_id": request_id})
        except SQLAlchemyError:
            log.exception("reply failed: database", extra={"request_id": request_id})
            await self.send({"type": "error", "requestId": request_id, "detail": BUSY})
        except Exception:
            log.exception("reply failed", extra={"request_id": request_id})
            await self.send({"type": "error", "requestId": request_id, "detail": "Internal server error"})
