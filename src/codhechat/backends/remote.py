"""Remote mode: the ChatBackend over a CoDHeChat server (REST with httpx, replies over /ws).

One persistent WebSocket carries every reply, each under a fresh request id; frames are
routed by `requestId` and frames for ids we do not know are ignored, so two conversations
can generate at once and never mix.

Whole-reply or delta chunks: the link always asks for `/ws?stream=delta`. A server with
the extension answers with a `started` frame and chunks carrying `delta` (the new text);
a classic server ignores the query parameter and sends chunks whose `content` is the whole
reply so far, from which we subtract what we have already seen. Each chunk is read by its
keys, so nothing has to be negotiated or remembered. A socket that has sent `started` also
takes `cancel` frames; on a classic socket, Stop just stops reading that request.

The token goes in an `Authorization` header; a classic server, which reads only
`?token=`, answers that with close 1008, so the link tries the query parameter once
and remembers (per server, with the token) which one works.

The link reconnects by itself: other drops -> exponential backoff with jitter, capped;
1013 (no model, or too many sockets) -> a longer back-off; 1008 -> renew the token once,
then stop and say so (an accepted handshake is not success: a bad token is accepted, then
closed, so the backoff only resets once a connection has carried a frame or stayed up).
A reply streaming when the link drops ends as ReplyFailed, its text kept (the server
stores it too, as `partial`), and Ctrl+R asks again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from codhechat.backends import DELETE, RENAME
from codhechat.backends.remote_http import (
    AuthError,
    FatalRemoteError,
    RemoteError,
    ServerApi,
    connect_error,
    display_name,
    status_error,
    ws_url,
)
from codhechat.errors import CodheError
from codhechat.models import (
    ConnectionState,
    Conversation,
    Message,
    MessageStatus,
    ReplyDelta,
    ReplyDone,
    ReplyEvent,
    ReplyFailed,
    ReplyStarted,
    title_for,
)

log = logging.getLogger("codhechat.remote")

POLICY_VIOLATION, TRY_AGAIN_LATER = 1008, 1013
MAX_MESSAGE_CHARS = 5000  # the protocol's limit on a prompt
# Whole-reply chunks grow with the reply: a 64 MiB frame holds a reply of millions of characters.
MAX_FRAME_BYTES = 64 * 1024 * 1024
STABLE_AFTER_S = 5.0  # a connection up this long (or that carried a frame) resets the backoff
SETTLE_S = 0.3  # while header auth is unproven, wait this long for an immediate 1008


class _Dropped:
    """Put on a request's queue when the link goes down under it."""

    def __init__(self, error: CodheError) -> None:
        self.error = error


def _now() -> datetime:
    return datetime.now(UTC)


def _time(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return _now()
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class RemoteBackend:
    # The classic protocol has none of the optional abilities; a server that shows it
    # speaks codhechat serve's extensions (it lists without embedded messages, or its
    # socket sends `started`) can also rename and delete. Pin, search, regenerate and
    # per-conversation options have no server routes: the app hides them here.
    capabilities: frozenset[str] = frozenset()

    def __init__(
        self,
        server: str,
        *,
        http_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        reply_idle_timeout: float = 180.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        busy_backoff: float = 10.0,
        token_folder: Path | None = None,
    ) -> None:
        self.api = ServerApi(server, timeout=http_timeout, token_folder=token_folder)
        self.server = self.api.server
        self.mode = display_name(self.server)
        self.model = ""
        self.connect_timeout = connect_timeout
        self.reply_idle_timeout = reply_idle_timeout
        self.backoff_base, self.backoff_cap, self.busy_backoff = backoff_base, backoff_cap, busy_backoff
        self.connection = ConnectionState("connecting")
        self._listeners: list[Callable[[ConnectionState], None]] = []
        self._ws: ClientConnection | None = None
        self._extended = False  # the current socket speaks the extensions (sent `started`)
        self._link: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._attempt: asyncio.Future[None] | None = None
        # request id -> (the socket it was sent on, its frames)
        self._requests: dict[str, tuple[ClientConnection, asyncio.Queue[dict[str, Any] | _Dropped]]] = {}
        self._send_lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self._conversations: dict[int, Conversation] = {}
        self._history: dict[int, list[Message]] = {}
        self._frames_seen = False
        self._accepted: tuple[str, bool] | None = None  # (token, in a header) that stayed connected
        self._closing = False

    # -- connection state, for the status line ----------------------------------------

    def watch_connection(self, listener: Callable[[ConnectionState], None]) -> Callable[[], None]:
        """Call `listener` with every ConnectionState from now on; returns an unsubscribe."""
        self._listeners.append(listener)
        listener(self.connection)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _publish(self, state: ConnectionState) -> None:
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a listener's bug must not take the link down
                log.exception("connection listener failed")

    def _set_state(self, state: ConnectionState) -> None:
        if state != self.connection:
            self.connection = state
            self._publish(state)

    def _notice(self, text: str) -> None:
        self._publish(replace(self.connection, notice=text))

    # -- conversations (REST) ----------------------------------------------------------

    async def list_conversations(self, *, limit: int = 200, offset: int = 0) -> list[Conversation]:
        """All pages, newest first (classic servers may list in any order: we sort)."""
        items = await self.api.get_all("/conversations/", {"include_messages": "false"})
        if items and all("messages" not in item for item in items):
            self._extensions_seen()
        conversations = [self._conversation(item) for item in items]
        conversations.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
        self._conversations.update((c.id, c) for c in conversations)
        return conversations[offset : offset + limit]

    def _extensions_seen(self) -> None:
        self.capabilities = frozenset({RENAME, DELETE})

    async def rename_conversation(self, conversation_id: int, title: str) -> Conversation | None:
        response = await self.api.authorised("PATCH", f"/conversations/{conversation_id}", json={"name": title})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise status_error(self.server, response)
        renamed = self._conversation(self.api.json_body(response, "PATCH /conversations/{id}"))
        self._conversations[conversation_id] = renamed
        return renamed

    async def delete_conversation(self, conversation_id: int) -> int | None:
        """Returns how many messages went with it, as far as this client had seen."""
        response = await self.api.authorised("DELETE", f"/conversations/{conversation_id}")
        if response.status_code == 404:
            return None
        if response.status_code not in (200, 204):
            raise status_error(self.server, response)
        self._conversations.pop(conversation_id, None)
        return len(self._history.pop(conversation_id, []))

    def _conversation(self, item: dict[str, Any]) -> Conversation:
        try:
            created = _time(item["created_at"])
            updated = _time(item["updated_at"]) if item.get("updated_at") else created
            for message in item.get("messages") or []:  # the classic shape embeds them
                if isinstance(message, dict) and message.get("timestamp"):
                    updated = max(updated, _time(message["timestamp"]))
            return Conversation(id=int(item["id"]), title=str(item["name"]), created_at=created, updated_at=updated)
        except (KeyError, TypeError, ValueError):
            raise RemoteError(f"{self.server} listed a conversation that is not of the protocol.") from None

    async def _load_history(self, conversation_id: int) -> list[Message]:
        items = await self.api.get_all(
            f"/conversations/{conversation_id}/messages/",
            not_found="That conversation does not exist on the server (any more).",
        )
        messages = []
        for item in items:
            try:
                status = MessageStatus(item.get("status") or "complete")
            except ValueError:
                status = MessageStatus.COMPLETE
            try:
                messages.append(
                    Message(id=int(item["id"]), conversation_id=conversation_id, role=item["role"],
                            content=str(item["content"]), created_at=_time(item.get("timestamp")),
                            status=status)  # fmt: skip
                )
            except (KeyError, TypeError, ValueError):
                raise RemoteError(f"{self.server} sent a message that is not of the protocol.") from None
        messages.sort(key=lambda m: m.id)
        self._history[conversation_id] = messages
        return messages

    async def get_messages(
        self,
        conversation_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """Windows of the full history, loaded (all pages) when a conversation is opened."""
        messages = self._history.get(conversation_id)
        if messages is None or (before is None and after is None):
            messages = await self._load_history(conversation_id)
        if after is not None:
            return [m for m in messages if m.id > after][:limit]
        return [m for m in messages if before is None or m.id < before][-limit:]

    async def _conversation_by_id(self, conversation_id: int, prompt: str, *, new: bool = False) -> Conversation:
        known = self._conversations.get(conversation_id)
        if known is None and not new:
            try:
                await self.list_conversations(limit=10**9)
            except CodheError:
                pass
            known = self._conversations.get(conversation_id)
        if known is None:  # a new conversation, named after its first message by the server
            known = Conversation(conversation_id, title_for(prompt), _now(), _now())
        known = replace(known, updated_at=_now())
        self._conversations[conversation_id] = known
        return known

    async def _find_new_conversation(self, prompt: str) -> Conversation | None:
        """A classic server's error frame names no conversation: find the one it just made."""
        title = title_for(prompt)
        try:
            conversations = await self.list_conversations(limit=10**9)
        except CodheError:
            return None
        named = [c for c in conversations if " ".join(c.title.split()) == title]
        return max(named, key=lambda c: c.id) if named else None

    # -- the link ----------------------------------------------------------------------

    def _start_link(self) -> None:
        if not self._closing and (self._link is None or self._link.done()):
            self._link = asyncio.create_task(self._run_link(), name="codhechat-remote-link")

    def _next_attempt(self) -> asyncio.Future[None]:
        if self._attempt is None or self._attempt.done():
            self._attempt = asyncio.get_running_loop().create_future()
        return self._attempt

    def _settle_attempt(self, error: CodheError | None) -> None:
        attempt = self._attempt
        if attempt is not None and not attempt.done():
            if error is None:
                attempt.set_result(None)
            else:
                attempt.set_exception(error)
                attempt.exception()  # retrieved: nobody may be waiting

    async def _connected(self) -> ClientConnection:
        """The open socket, connecting (or cutting a backoff short) if needed."""
        if self._ws is not None and self.connection.status == "connected":
            return self._ws
        attempt = self._next_attempt()
        self._start_link()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(attempt), self.connect_timeout + SETTLE_S + 1)
        except TimeoutError:
            raise RemoteError(f"Could not connect to {self.server} in time.",
                              "Check your network; codhechat keeps trying.") from None  # fmt: skip
        if self._ws is None:
            raise RemoteError(f"The connection to {self.server} dropped.", "Try again.")
        return self._ws

    async def _run_link(self) -> None:
        failures = 0
        renewed = False  # re-authenticated once after a 1008
        probing_with: str | None = None  # the token being tried as ?token= after a header 1008
        rejected: str | None = None
        while not self._closing:
            self._next_attempt()
            try:
                token = await self.api.token(rejected=rejected)
            except FatalRemoteError as exc:
                self._give_up(exc)
                return
            except CodheError as exc:
                failures += 1
                await self._backoff(failures, exc)
                continue
            rejected = None
            credentials = self.api.credentials
            use_header = credentials is None or credentials.header_auth is not False
            try:
                ws = await self._open(token, use_header)
            except FatalRemoteError as exc:
                self._give_up(exc)
                return
            except CodheError as exc:
                failures += 1
                await self._backoff(failures, exc)
                continue
            # A bad token is accepted, then closed: until this token has stayed connected once,
            # wait a moment before calling the link connected (and sending on it).
            code, reason, carried = await self._serve(ws, token=token, use_header=use_header)
            if self._closing:
                return
            if code == POLICY_VIOLATION and not carried:
                if use_header and probing_with is None:
                    probing_with = token  # a classic server reads only ?token=: try that once
                    self.api.remember_header_auth(False)
                    continue
                if probing_with is not None:  # refused both ways: the token is bad
                    self.api.remember_header_auth(None)  # type: ignore[arg-type]
                    probing_with = None
                if not renewed:
                    renewed, rejected = True, token
                    continue
                self._give_up(AuthError(
                    f"{self.server} refused the sign-in (close code 1008): the token is invalid or expired.",
                    f"Sign in again with: codhechat login --server {self.server} (or restart for a new guest).",
                ))  # fmt: skip
                return
            if carried:
                failures, renewed = 0, False
            probing_with = None
            failures += 1
            if code == TRY_AGAIN_LATER:
                error = RemoteError(
                    f"The server cannot chat right now: {reason or 'try again later'} (close code 1013).",
                    "It has no model configured, or is at its connection limit; codhechat tries again on its own.",
                )
                await self._backoff(failures, error, floor=self.busy_backoff)
            else:
                await self._backoff(failures, RemoteError(f"Lost the connection to {self.server}."))

    async def _open(self, token: str, use_header: bool) -> ClientConnection:
        url = ws_url(self.server) + "?stream=delta"
        headers = {"Authorization": f"Bearer {token}"} if use_header else None
        if not use_header:
            url += f"&token={token}"
        ssl_context = None
        if url.startswith("wss:") and not isinstance(self.api.verify, bool):
            ssl_context = self.api.verify
        try:
            return await connect(
                url, additional_headers=headers, open_timeout=self.connect_timeout,
                max_size=MAX_FRAME_BYTES, ssl=ssl_context, proxy=None,
            )  # fmt: skip
        except InvalidURI:
            raise FatalRemoteError(f"{self.server} is not a usable address.") from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AuthError(f"{self.server} refused the WebSocket sign-in ({status}).") from None
            if status == 404:
                raise FatalRemoteError(
                    f"{self.server} has no /ws (404): it does not look like a CoDHeChat server.",
                    "Check the address: give the server's root URL.",
                ) from None
            raise RemoteError(f"{self.server} refused the WebSocket connection (HTTP {status}).") from None
        except InvalidHandshake as exc:
            raise RemoteError(f"{self.server} did not open a WebSocket: {exc}.") from None
        except (OSError, TimeoutError) as exc:
            raise connect_error(self.server, exc) from None

    async def _serve(self, ws: ClientConnection, *, token: str, use_header: bool) -> tuple[int | None, str, bool]:
        """Read frames until the socket closes: (close code, reason, carried a frame or stayed up)."""
        self._extended = False
        self._frames_seen = False
        opened = time.monotonic()
        if self._accepted != (token, use_header):  # a refused token is closed at once
            try:
                await asyncio.wait_for(asyncio.shield(ws.wait_closed()), SETTLE_S)
            except TimeoutError:
                pass
        if ws.close_code is None:
            self._accepted = (token, use_header)
            if use_header:
                self.api.remember_header_auth(True)
            self._ws = ws
            self._set_state(ConnectionState("connected"))
            self._settle_attempt(None)
            try:
                async for raw in ws:
                    self._dispatch(raw)
            except ConnectionClosed:
                pass
            except Exception:
                log.exception("reading the socket failed")
            finally:
                self._ws = None
        code, reason = ws.close_code, ws.close_reason or ""
        await ws.close()
        carried = self._frames_seen or time.monotonic() - opened >= STABLE_AFTER_S
        if code == POLICY_VIOLATION:
            error: CodheError = AuthError(f"{self.server} refused the sign-in (close code 1008).",
                                          "Press Ctrl+R to try again.")  # fmt: skip
        elif code == TRY_AGAIN_LATER:
            error = RemoteError(f"The server cannot chat right now: {reason or 'try again later'} (close code 1013).",
                                "Press Ctrl+R to try again later.")  # fmt: skip
        else:
            error = RemoteError(
                "The connection to the server dropped mid-reply: the reply is incomplete.",
                "What arrived is kept. Press Ctrl+R to ask again once the status line says connected.",
            )
        for request_id, (sent_on, queue) in list(self._requests.items()):
            if sent_on is ws:
                queue.put_nowait(_Dropped(error))
                del self._requests[request_id]
        return code, reason, carried

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            self._notice("The server sent a frame that is not valid JSON; it was ignored.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self._notice("The server sent a frame that is not of the CoDHeChat protocol; it was ignored.")
            return
        self._frames_seen = True
        request_id = frame.get("requestId")
        if request_id is None:
            detail = frame.get("detail")
            if frame["type"] == "error":
                self._notice(f"The server reported an error: {detail}")
            else:
                self._notice("The server sent a frame that is not of the CoDHeChat protocol; it was ignored.")
            return
        if frame["type"] == "started" or "delta" in frame:
            self._extended = True
            self._extensions_seen()
        entry = self._requests.get(request_id) if isinstance(request_id, str) else None
        if entry is not None:  # else: someone else's id, or a request we stopped: ignore it
            entry[1].put_nowait(frame)

    async def _backoff(self, failures: int, error: CodheError, *, floor: float = 0.0) -> None:
        """Exponential backoff with jitter, capped; a new prompt cuts it short."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        delay = max(floor, delay * random.uniform(0.5, 1.0))
        self._wake.clear()
        self._settle_attempt(error)
        self._set_state(ConnectionState("reconnecting", retry_at=time.monotonic() + delay, detail=error.message))
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass

    def _give_up(self, error: CodheError) -> None:
        """Stop reconnecting until the user asks for something (a prompt, Ctrl+R)."""
        self._settle_attempt(error)
        state = ConnectionState("offline", detail=error.message)
        self._set_state(state)
        self._publish(replace(state, notice=f"{error.message} {error.hint}".strip()))

    async def _send(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        try:
            async with self._send_lock:
                await ws.send(json.dumps(frame))
        except ConnectionClosed:
            raise RemoteError(f"The connection to {self.server} dropped; nothing was sent.", "Try again.") from None

    def _cancel_later(self, request_id: str) -> None:
        """Ask the server to stop a reply (it keeps the partial text); fire and forget."""
        ws = self._ws
        if ws is None or not self._extended:
            return  # a classic server has no cancel: we just stopped reading

        async def cancel() -> None:
            try:
                await ws.send(json.dumps({"type": "cancel", "request_id": request_id}))
            except Exception:
                pass

        task = asyncio.get_running_loop().create_task(cancel())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- replies -----------------------------------------------------------------------

    def stream_reply(self, conversation_id: int | None, prompt: str) -> AsyncIterator[ReplyEvent]:
        return self._exchange(conversation_id, prompt)

    async def retry_reply(self, conversation_id: int) -> AsyncIterator[ReplyEvent]:
        """Ask again for the reply to the conversation's last user message.

        The protocol has no "regenerate": a server only replies to a message it receives.
        So a retry sends the last user message again, and the server stores it a second
        time, then the new reply. The failed or stopped reply stays on the server as it
        ended (`partial` or `error` on servers that keep a status; nothing when no text
        had arrived): the protocol cannot delete one message. Reopening the conversation
        shows that earlier attempt, the repeated prompt and the new reply.
        """
        history = await self._load_history(conversation_id)
        last_user = next((m for m in reversed(history) if m.role == "user"), None)
        if last_user is None:
            raise RemoteError("There is no message to retry in this conversation.")
        async for event in self._exchange(conversation_id, last_user.content):
            yield ReplyStarted(event.conversation, None) if isinstance(event, ReplyStarted) else event

    async def _exchange(self, conversation_id: int | None, prompt: str) -> AsyncIterator[ReplyEvent]:
        prompt = prompt.strip()
        if not prompt:
            raise ValueError("empty prompt")
        if len(prompt) > MAX_MESSAGE_CHARS:
            raise RemoteError(
                f"The message is {len(prompt):,} characters long; the server takes at most {MAX_MESSAGE_CHARS:,}.",
                "Shorten it, or split it over several messages.",
            )
        ws = await self._connected()  # raises before anything is sent: nothing is stored
        request_id = uuid.uuid4().hex
        queue: asyncio.Queue[dict[str, Any] | _Dropped] = asyncio.Queue()
        self._requests[request_id] = (ws, queue)
        seen = ""
        conversation: Conversation | None = None
        finished = False
        try:
            await self._send(ws, {"request_id": request_id, "message": prompt, "conversation_id": conversation_id})
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), self.reply_idle_timeout)
                except TimeoutError:
                    frame = _Dropped(RemoteError(
                        f"The server sent nothing for {self.reply_idle_timeout:g} s: the reply is incomplete.",
                        "Press Ctrl+R to ask again.",
                    ))  # fmt: skip
                if isinstance(frame, _Dropped):
                    finished = True
                    if conversation is None and conversation_id is not None:
                        conversation = await self._conversation_by_id(conversation_id, prompt)
                        if conversation is not None:
                            yield ReplyStarted(conversation, None)
                    yield self._failed(frame.error, conversation, seen, MessageStatus.PARTIAL)
                    return
                kind = frame.get("type")
                frame_conversation = frame.get("conversationId")
                if isinstance(frame_conversation, int) and frame_conversation != (
                    conversation.id if conversation is not None else conversation_id or frame_conversation
                ):
                    log.warning("ignored a frame for another conversation", extra={"request_id": request_id})
                    continue  # our id, someone else's conversation: never let text cross over
                if conversation is None and isinstance(frame_conversation, int) and kind != "error":
                    conversation = await self._conversation_by_id(
                        frame_conversation, prompt, new=conversation_id is None
                    )
                    self._history.pop(conversation.id, None)
                    yield ReplyStarted(conversation, self._user_message(conversation, prompt, frame))
                if kind == "started":
                    continue
                if kind == "chunk":
                    piece = self._piece(frame, seen)
                    if isinstance(piece, CodheError):
                        finished = True
                        yield self._failed(piece, conversation, seen, MessageStatus.ERROR)
                        return
                    if piece:
                        seen += piece
                        yield ReplyDelta(piece)
                elif kind == "complete":
                    finished = True
                    assert conversation is not None
                    message_id = frame.get("messageId")
                    yield ReplyDone(Message(
                        id=message_id if isinstance(message_id, int) else 0, conversation_id=conversation.id,
                        role="assistant", content=seen, created_at=_now(), model=self.model or None,
                    ))  # fmt: skip
                    return
                elif kind == "error":
                    finished = True
                    if conversation is None and frame.get("detail") != "Conversation not found":
                        conversation = await self._started_late(conversation_id, prompt)
                        if conversation is not None:
                            yield ReplyStarted(conversation, None)
                    yield self._failed(self._error_frame(frame), conversation, seen, MessageStatus.ERROR)
                    return
                elif kind != "cancelled":
                    finished = True
                    error = RemoteError(
                        f"The server sent a frame of unknown type {str(kind)[:40]!r}: not of the CoDHeChat protocol.",
                        "The reply was abandoned; press Ctrl+R to ask again.",
                    )
                    yield self._failed(error, conversation, seen, MessageStatus.ERROR)
                    return
        finally:
            self._requests.pop(request_id, None)
            if not finished:
                self._cancel_later(request_id)  # stopped by the user, or the app is closing

    async def _started_late(self, conversation_id: int | None, prompt: str) -> Conversation | None:
        if conversation_id is not None:
            return await self._conversation_by_id(conversation_id, prompt)
        return await self._find_new_conversation(prompt)

    def _user_message(self, conversation: Conversation, prompt: str, frame: dict[str, Any]) -> Message:
        user_id = frame.get("userMessageId")
        return Message(id=user_id if isinstance(user_id, int) else 0, conversation_id=conversation.id,
                       role="user", content=prompt, created_at=_now())  # fmt: skip

    def _piece(self, frame: dict[str, Any], seen: str) -> str | CodheError:
        """The new text of a chunk: its `delta`, or its whole-reply `content` minus what we have."""
        delta = frame.get("delta")
        if isinstance(delta, str):
            return delta
        content = frame.get("content")
        if isinstance(content, str):
            if content.startswith(seen):
                return content[len(seen) :]
            if seen.startswith(content):
                return ""  # a stale repeat
            return RemoteError(
                "The server sent a chunk that does not continue the reply: not of the CoDHeChat protocol.",
                "The reply was abandoned; press Ctrl+R to ask again.",
            )
        return RemoteError("The server sent a chunk without text: not of the CoDHeChat protocol.",
                           "The reply was abandoned; press Ctrl+R to ask again.")  # fmt: skip

    def _error_frame(self, frame: dict[str, Any]) -> CodheError:
        detail = str(frame.get("detail") or "no detail given")
        if detail == "Conversation not found":
            return RemoteError("That conversation does not exist on the server (any more).",
                               "Start a new conversation with Ctrl+N.")  # fmt: skip
        return RemoteError(f"The server could not reply: {detail}", "Press Ctrl+R to try again.")

    def _failed(self, error: CodheError, conversation: Conversation | None, text: str,
                status: MessageStatus) -> ReplyFailed:  # fmt: skip
        if conversation is None:
            return ReplyFailed(error, None)
        message = Message(id=0, conversation_id=conversation.id, role="assistant", content=text,
                          created_at=_now(), status=status, error=error.message)  # fmt: skip
        return ReplyFailed(error, message)

    # -- the rest of ChatBackend ---------------------------------------------------------

    def set_api_key(self, api_key: str) -> None:
        """The server holds the model's key: nothing to do here."""

    async def warm_up(self) -> None:
        """Open the link (and learn the model's name) before the first prompt."""
        self._start_link()
        self.model = await self.api.health_model() or self.model
        self._publish(self.connection)

    async def aclose(self) -> None:
        self._closing = True
        if self._background:
            await asyncio.wait(list(self._background), timeout=1.0)
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._link is not None:
            self._link.cancel()
            try:
                await self._link
            except (asyncio.CancelledError, Exception):
                pass
        await self.api.aclose()

