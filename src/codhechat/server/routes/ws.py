"""`/ws`: streaming chat. Several requests per socket, cancel, opt-in delta streaming.

Legacy frames are sent exactly as protocol.md gives them; the extensions appear
only to a client that connected with `?stream=delta` or sent a `cancel` frame. Every
frame sent is a codhechat.protocol model; chunks are coalesced (server/relay.py: at
most one per WS_CHUNK_INTERVAL per reply, the first at once, the text always exact).

A socket holds a lease (sockets in total, per user, per address); each reply holds
one too (per user) and waits for its conversation's earlier turns. A socket with no
reply in progress for WS_IDLE_TIMEOUT is closed (1001); a client that stops reading
is dropped once a frame has waited WS_SEND_TIMEOUT for it, its replies cancelled and
their partial text kept. Failures of the database are never mistaken for a client
that left: they are answered with 1013 or an error frame.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from codhechat.errors import ModelError
from codhechat.protocol import (
    CONVERSATION_NOT_FOUND,
    INVALID_PAYLOAD,
    POLICY_VIOLATION,
    STREAM_DELTA,
    STREAM_PARAM,
    TRY_AGAIN_LATER,
    CancelledFrame,
    CompleteFrame,
    ErrorFrame,
    ServerFrame,
    StartedFrame,
)
from codhechat.read_pace import read_pace
from codhechat.server import branching
from codhechat.server.attachment_store import AttachmentsRefused
from codhechat.server.db import DatabaseUnavailable, is_database_failure
from codhechat.server.deps import AppContext, Ctx, client_address, user_for_token
from codhechat.server.limits import Lease, Refused, TurnOrder
from codhechat.server.models import User
from codhechat.server.relay import Clock, Relay
from codhechat.server.routes.ws_input import BadFrame, bearer, parse
from codhechat.server.service import BUSY, ConversationNotFound, ReplyNotSaved, Turn

router = APIRouter(tags=["ws"])
log = logging.getLogger("codhechat.server.ws")

GOING_AWAY = 1001
ABORT_KEY = "codhechat.abort"  # set by app.ExposeAbort: drops the TCP connection at once
RELEASE_KEY = "codhechat.release_compression"  # set by app.ExposeAbort: server/ws_deflate.py


class ClientGone(Exception):
    """Sending to the client failed: it disconnected, or stopped reading."""


async def _refuse(websocket: WebSocket, code: int, reason: str, *, frame: str | None = None) -> None:
    try:
        if frame is not None:
            await websocket.send_text(ErrorFrame(detail=frame).encode())
        await websocket.close(code=code, reason=reason[:120])
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket, ctx: Ctx) -> None:
    await websocket.accept()
    try:
        user = await user_for_token(ctx, bearer(websocket))
        if user is None:
            await _refuse(websocket, POLICY_VIOLATION, "Invalid or missing token")
            return
        if not ctx.settings.model_configured:
            await _refuse(websocket, TRY_AGAIN_LATER, "No model is configured on this server")
            return
        lease = await ctx.limits.open_socket(user.id, client_address(websocket))
    except Refused as refused:
        log.warning("socket refused", extra={"reason": refused.detail})
        await _refuse(websocket, TRY_AGAIN_LATER, refused.detail, frame=refused.detail)
        return
    except Exception as exc:
        if not is_database_failure(exc):
            raise
        log.warning("socket refused: database unavailable", extra={"error": type(exc).__name__})
        await _refuse(websocket, TRY_AGAIN_LATER, "The server is busy; try again shortly", frame=BUSY)
        return
    delta = websocket.query_params.get(STREAM_PARAM) == STREAM_DELTA
    connection = Connection(websocket, ctx, user, delta=delta)
    log.info("socket opened", extra={"user_id": user.id, "delta": delta})
    try:
        await connection.serve()
    finally:
        await ctx.limits.release(lease)
        log.info("socket closed", extra={"user_id": user.id, "why": connection.ended})


class Connection:
    def __init__(self, websocket: WebSocket, ctx: AppContext, user: User, *, delta: bool) -> None:
        self.websocket = websocket
        self.ctx = ctx
        self.user_id = user.id
        self.delta = delta
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.turns: dict[str, Turn] = {}  # the replies under way, once their prompt is stored
        self.cancelled: set[str] = set()
        self.ended = "client closed"
        self._send_lock = asyncio.Lock()
        self._sending_since: float | None = None  # when the frame now being sent was handed over
        self._idle = asyncio.Event()  # no reply in progress
        self._busy = asyncio.Event()  # at least one
        self._idle.set()
        self._clock = Clock()  # chunk frames: at most one per WS_CHUNK_INTERVAL on this socket
        self._release = websocket.scope.get(RELEASE_KEY)  # drops the compressor of an idle socket

    # -- the socket's life ----------------------------------------------------------
    async def serve(self) -> None:
        watchers = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._watch_idle()),
            asyncio.ensure_future(self._watch_sends()),
        ]
        try:
            await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            tasks = list(self.tasks.values())
            for task in [*watchers, *tasks]:
                task.cancel()  # each reply keeps its partial text, marked
            await asyncio.gather(*watchers, *tasks, return_exceptions=True)

    async def _read(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                raw = message.get("text")
                if raw is None:
                    try:
                        raw = (message.get("bytes") or b"").decode()
                    except UnicodeDecodeError:
                        raw = ""
                await self.handle(raw)
        except (WebSocketDisconnect, ClientGone):
            return

    async def _watch_idle(self) -> None:
        """Close a socket idle for WS_IDLE_TIMEOUT; drop its compressor (per-message deflate's
        zlib state, server/ws_deflate.py) once idle for WS_COMPRESSOR_IDLE."""
        timeout = self.ctx.settings.ws_idle_timeout
        keep = min(self.ctx.settings.ws_compressor_idle, timeout)
        while True:
            await self._idle.wait()
            if not await self._stays_idle(keep):
                continue
            if self._release is not None:
                self._release()
            if not await self._stays_idle(timeout - keep):
                continue
            self.ended = "idle"
            log.info("socket idle: closing", extra={"user_id": self.user_id, "seconds": timeout})
            try:
                async with asyncio.timeout(self.ctx.settings.ws_send_timeout):
                    await self.websocket.close(GOING_AWAY, f"No request for {timeout:g} s")
            except (TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
                self._abort()
            return

    async def _stays_idle(self, seconds: float) -> bool:
        """True when no reply starts within `seconds` (asyncio.timeout: no task per wait)."""
        try:
            async with asyncio.timeout(seconds):
                await self._busy.wait()
        except TimeoutError:
            return True
        return False

    async def _watch_sends(self) -> None:
        """Drop a client that has not taken a frame for WS_SEND_TIMEOUT (it stopped reading,
        and its TCP window is full). One timer per socket, not one per frame."""
        timeout = self.ctx.settings.ws_send_timeout
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(timeout / 4)
            since = self._sending_since
            if since is not None and loop.time() - since > timeout:
                self.ended = "client stopped reading"
                log.warning("client stopped reading: dropping the socket", extra={"user_id": self.user_id})
                self._abort()
                return

    def _abort(self) -> None:
        """Drop the TCP connection: a peer that does not read would keep it (and the
        frames queued for it) forever, since a close frame can never get through."""
        abort = self.websocket.scope.get(ABORT_KEY)
        if callable(abort):
            abort()

    async def send(self, frame: ServerFrame) -> None:
        """Send one frame, or raise ClientGone: the client left, or did not take the frame
        while WS_SEND_TIMEOUT has not passed (else _watch_sends drops the whole socket)."""
        payload = frame.encode()
        try:
            async with self._send_lock:
                if self.websocket.application_state is not WebSocketState.CONNECTED:
                    raise ClientGone("closed")
                self._sending_since = asyncio.get_running_loop().time()
                try:
                    await self.websocket.send_text(payload)
                finally:
                    self._sending_since = None
        except (WebSocketDisconnect, OSError, RuntimeError) as exc:
            raise ClientGone(type(exc).__name__) from None

    # -- frames ----------------------------------------------------------------------
    async def handle(self, raw: str) -> None:
        try:
            kind, payload = parse(raw, self.ctx.settings)
        except BadFrame as bad:
            if self.delta and bad.request_id is not None:
                await self.send(ErrorFrame(detail=INVALID_PAYLOAD, reason=bad.reason, request_id=bad.request_id))
            else:
                await self.send(ErrorFrame(detail=INVALID_PAYLOAD, reason=bad.reason))
            return
        if kind == "cancel":
            await self.cancel(payload["request_id"])
            return
        request_id = payload["request_id"]
        if request_id in self.tasks:
            await self.send(self._error(request_id, "This request_id is already in progress"))
            return
        limit = self.ctx.settings.max_requests_per_socket
        if len(self.tasks) >= limit:
            await self.send(
                self._error(request_id, f"Too many requests in progress on this connection (at most {limit})")
            )
            return
        # The conversation's place is taken here, in arrival order, before anything waits.
        order = self.ctx.limits.turn_order(self.user_id, payload["conversation_id"])
        task = asyncio.create_task(self.run(request_id, payload, order))
        self.tasks[request_id] = task
        self._idle.clear()
        self._busy.set()
        task.add_done_callback(partial(self._forget, request_id))

    def _forget(self, request_id: str, task: asyncio.Task[None]) -> None:
        if self.tasks.get(request_id) is task:
            del self.tasks[request_id]
        self.cancelled.discard(request_id)
        if not self.tasks:
            self._busy.clear()
            self._idle.set()

    async def cancel(self, request_id: str) -> None:
        task = self.tasks.get(request_id)
        if task is None or task.done():
            await self.send(self._error(request_id, "No such request in progress"))
            return
        self.cancelled.add(request_id)
        task.cancel()

    # -- one reply -------------------------------------------------------------------------
    async def run(self, request_id: str, payload: dict[str, Any], order: TurnOrder) -> None:
        """One request, from its lease to its last frame. The request stops counting as in
        progress (for `cancel`, duplicate ids and the per-socket cap) just before that frame."""
        lease: Lease | None = None
        last: ServerFrame | None = None
        try:
            try:
                lease = await self.ctx.limits.open_reply(self.user_id)
            except BaseException:
                await order.leave()
                raise
            last = await self._turn(request_id, payload, order)
        except Refused as refused:
            last = self._error(request_id, refused.detail)
        except ClientGone:
            log.info("client went away mid-reply", extra={"request_id": request_id})
        except asyncio.CancelledError:
            if request_id not in self.cancelled:
                raise  # the socket is closing: nothing to tell
            turn = self.turns.get(request_id)
            last = CancelledFrame(request_id=request_id, conversation_id=turn.conversation_id if turn else None,
                                  message_id=turn.message_id if turn else None)  # fmt: skip
        except Exception as exc:
            if is_database_failure(exc):
                log.warning("reply failed: database unavailable", extra={"request_id": request_id})
                last = self._error(request_id, BUSY)
            else:
                log.exception("reply failed", extra={"request_id": request_id})
                last = self._error(request_id, "Internal server error")
        finally:
            self.turns.pop(request_id, None)
            if lease is not None:
                await self.ctx.limits.release(lease)
        if last is not None:
            task = asyncio.current_task()
            assert task is not None
            self._forget(request_id, task)
            try:
                await self.send(last)
            except ClientGone:
                pass

    @staticmethod
    def _error(request_id: str, detail: str, **extra: Any) -> ErrorFrame:
        return ErrorFrame(request_id=request_id, detail=detail, **extra)

    async def _turn(self, request_id: str, payload: dict[str, Any], order: TurnOrder) -> ServerFrame:
        """Run the turn (a chat, regenerate or edit frame's: server/branching.py) in its
        conversation's order; its last frame (complete or error). The chunks it had
        waiting go before that frame (see server/relay.py)."""
        chat = self.ctx.chat
        turn: Turn | None = None
        relay: Relay | None = None
        try:
            async with order:
                turn = await branching.begin(chat, user_id=self.user_id, payload=payload)
                await order.claim(turn.conversation_id)  # a new conversation: ours until this reply ends
                self.turns[request_id] = turn
                log.info(
                    "reply started",
                    extra={"user_id": self.user_id, "conversation_id": turn.conversation_id,
                           "request_id": request_id, "chars": len(payload["message"]), "kind": payload["kind"]},
                )  # fmt: skip
                if self.delta:
                    await self.send(StartedFrame(request_id=request_id, conversation_id=turn.conversation_id,
                                                 user_message_id=turn.user_message_id))  # fmt: skip
                relay = Relay(self.send, request_id=request_id, conversation_id=turn.conversation_id,
                              delta=self.delta, interval=self.ctx.settings.ws_chunk_interval,
                              clock=self._clock)  # fmt: skip
                pacing = read_pace.set(relay.idle_s)  # the model is read as often as frames go
                try:
                    try:
                        await chat.reply(turn, relay.add)
                    finally:
                        read_pace.reset(pacing)
                        await branching.settle(chat, turn)
                except asyncio.CancelledError:
                    if request_id in self.cancelled:  # asked for: `cancelled` follows what arrived
                        await self._flush(relay)
                    else:  # the socket is closing: nobody reads it
                        relay.close()
                    raise
                except (ModelError, ReplyNotSaved):
                    await self._flush(relay)
                    raise
                except BaseException:
                    relay.close()
                    raise
                await relay.flush()
        except ConversationNotFound:
            return self._error(request_id, CONVERSATION_NOT_FOUND)
        except AttachmentsRefused as refused:
            return self._error(request_id, str(refused))
        except branching.BranchRefused as refused:
            return self._error(request_id, refused.detail)
        except (ModelError, ReplyNotSaved) as exc:
            assert turn is not None
            detail = chat.public_error(exc) if isinstance(exc, ModelError) else exc.detail
            if self.delta:
                return self._error(request_id, detail, conversation_id=turn.conversation_id, message_id=turn.message_id)
            return self._error(request_id, detail)
        except DatabaseUnavailable:
            return self._error(request_id, BUSY)
        if self.delta:
            frame = CompleteFrame(request_id=request_id, conversation_id=turn.conversation_id,
                                  message_id=turn.message_id, status=turn.status, model=turn.answered_by)  # fmt: skip
            if turn.usage is None:  # extension "tokens": given only when the model reported them
                return frame
            return frame.model_copy(update={"prompt_tokens": turn.usage[0], "completion_tokens": turn.usage[1]})
        return CompleteFrame(request_id=request_id, conversation_id=turn.conversation_id)

    @staticmethod
    async def _flush(relay: Relay) -> None:
        """What a failed or cancelled reply had waiting goes before the frame that ends it."""
        try:
            await relay.flush()
        except ClientGone:
            relay.close()
