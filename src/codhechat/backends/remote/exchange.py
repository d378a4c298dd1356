"""One exchange: a prompt sent over the link, and the frames of its reply as ReplyEvents.

The frames arrive already read (routing.py: each is a protocol model, or a FrameError
for one that names this request but is not of the protocol), so what is left here is
the meaning: the first frame naming a conversation starts the reply; a chunk's new text
is its `delta`, or its whole-reply `content` minus what arrived before (a classic server);
`complete`, `error`, a dropped link, a silent server or an unreadable frame end it.

Untrusted: a frame for this request that names another conversation is ignored (text
never crosses over), and a whole-reply chunk that does not continue the reply ends it.
A reply stopped by its reader (Esc, the app closing) is cancelled on the server where
the socket has the extension; a classic server has none, so we just stop reading.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from codhechat.backends.remote.errors import RemoteError
from codhechat.backends.remote.link import ClientFrame, Link
from codhechat.backends.remote.routing import Dropped, Inbound
from codhechat.errors import CodheError
from codhechat.models import (
    Attachment,
    Conversation,
    Message,
    MessageStatus,
    ReplyDelta,
    ReplyDone,
    ReplyEvent,
    ReplyFailed,
    ReplyStarted,
)
from codhechat.protocol import (
    CONVERSATION_NOT_FOUND,
    MAX_MESSAGE_CHARS,
    ChatFrame,
    CompleteFrame,
    ContentChunk,
    DeltaChunk,
    ErrorFrame,
    FrameError,
    ServerFrame,
    StartedFrame,
)
from codhechat.protocol.attachments import AttachedChatFrame

log = logging.getLogger("codhechat.remote")

ABANDONED = "The reply was abandoned: retry."
FAIR_SHARE = 64  # frames read in a row before the event loop gets a turn (the UI repaints)


class Conversations(Protocol):
    """What an exchange needs of the backend's conversation cache."""

    async def conversation_for(self, conversation_id: int, prompt: str, *, new: bool = False) -> Conversation:
        """The conversation with this id (a new one is named after `prompt`)."""
        ...

    async def find_new_conversation(self, prompt: str) -> Conversation | None:
        """The conversation a server just made for `prompt`, when no frame named it."""
        ...

    def forget_history(self, conversation_id: int) -> None: ...


def checked_prompt(prompt: str) -> str:
    """The prompt as the server will store it (trimmed), or why it cannot be sent."""
    prompt = prompt.strip()
    if not prompt:
        raise ValueError("empty prompt")
    if len(prompt) > MAX_MESSAGE_CHARS:
        raise RemoteError(
            f"The message is {len(prompt):,} characters long; the server takes at most {MAX_MESSAGE_CHARS:,}.",
            "Shorten it, or split it over several messages.",
        )
    return prompt


class Exchange:
    def __init__(self, link: Link, conversations: Conversations, conversation_id: int | None, prompt: str,
                 *, idle_timeout: float, model: Callable[[], str]) -> None:  # fmt: skip
        self.link = link
        self.conversations = conversations
        self.conversation_id = conversation_id  # None: a new conversation
        self.prompt = prompt
        self.idle_timeout = idle_timeout
        self.model = model  # the model's name when the reply completes (learnt from /health)
        self.request_id = uuid.uuid4().hex
        self.conversation: Conversation | None = None  # known once a frame names it
        self.seen = ""  # the reply so far
        self.finished = False
        self.attached: Sequence[tuple[int, Attachment]] = ()  # uploaded files (their ids on the server)

    def request(self) -> ClientFrame:
        """The frame that asks for the reply (checked before anything is sent)."""
        self.prompt = checked_prompt(self.prompt)
        frame = ChatFrame(request_id=self.request_id, message=self.prompt, conversation_id=self.conversation_id)
        if self.attached:  # extension `attachments` (never sent to a server without it)
            return AttachedChatFrame(**frame.model_dump(), attachments=[i for i, _ in self.attached])
        return frame

    async def events(self) -> AsyncGenerator[ReplyEvent, None]:
        frame = self.request()
        ws = await self.link.connected()  # raises before anything is sent: nothing is stored
        queue = self.link.requests.register(self.request_id, ws)
        try:
            await self.link.send(ws, frame)
            drained = 0  # frames taken without waiting: a burst is read without a loop turn per frame
            while not self.finished:
                if queue.empty() or drained >= FAIR_SHARE:
                    drained, item = 0, await self._wait(queue)
                else:
                    drained, item = drained + 1, queue.get_nowait()
                events: Sequence[ReplyEvent]
                if self.conversation is not None and isinstance(item, DeltaChunk | ContentChunk):
                    events = self._chunk(item)  # the hot path: one frame per token, nothing to look up
                else:
                    events = await self._handle(item)
                for event in events:
                    yield event
        finally:
            self.link.requests.forget(self.request_id)
            if not self.finished:
                self.link.cancel_later(self.request_id)  # stopped by the user, or the app is closing

    async def _wait(self, queue: asyncio.Queue[Inbound]) -> Inbound:
        try:
            return await asyncio.wait_for(queue.get(), self.idle_timeout)
        except TimeoutError:
            return Dropped(RemoteError(f"The server sent nothing for {self.idle_timeout:g} s: the reply is incomplete.",
                                       "Retry."))  # fmt: skip

    async def _handle(self, item: Inbound) -> list[ReplyEvent]:
        """The events one frame (or a drop) makes; sets `finished` first when it ends the reply."""
        if isinstance(item, Dropped):
            self.finished = True
            events: list[ReplyEvent] = []
            if self.conversation is None and self.conversation_id is not None:
                self.conversation = await self.conversations.conversation_for(self.conversation_id, self.prompt)
                events.append(ReplyStarted(self.conversation, None))
            return [*events, self._failed(item.error, MessageStatus.PARTIAL)]
        if isinstance(item, FrameError):
            self.finished = True
            error = RemoteError(f"The server sent {item.reason}: not of the CoDHeChat protocol.", ABANDONED)
            return [self._failed(error, MessageStatus.ERROR)]
        return await self._frame(item)

    async def _frame(self, frame: ServerFrame) -> list[ReplyEvent]:
        named = frame.conversation_id
        expected = self.conversation.id if self.conversation is not None else self.conversation_id
        if named is not None and expected is not None and named != expected:
            log.warning("ignored a frame for another conversation", extra={"request_id": self.request_id})
            return []  # our id, someone else's conversation: never let text cross over
        events: list[ReplyEvent] = []
        if self.conversation is None and named is not None and not isinstance(frame, ErrorFrame):
            self.conversation = await self.conversations.conversation_for(
                named, self.prompt, new=self.conversation_id is None
            )
            self.conversations.forget_history(self.conversation.id)
            events.append(ReplyStarted(self.conversation, self._user_message(self.conversation, frame)))
        if isinstance(frame, DeltaChunk | ContentChunk):
            events.extend(self._chunk(frame))
        elif isinstance(frame, CompleteFrame):
            self.finished = True
            assert self.conversation is not None  # a `complete` names its conversation: started above
            events.append(ReplyDone(Message(
                id=frame.message_id or 0, conversation_id=self.conversation.id, role="assistant",
                content=self.seen, created_at=datetime.now(UTC), model=frame.model or self.model() or None,
                prompt_tokens=frame.prompt_tokens, completion_tokens=frame.completion_tokens,  # extension "tokens"
            )))  # fmt: skip
        elif isinstance(frame, ErrorFrame):
            self.finished = True
            if self.conversation is None and frame.detail != CONVERSATION_NOT_FOUND:
                self.conversation = await self._started_late()
                if self.conversation is not None:
                    events.append(ReplyStarted(self.conversation, None))
            events.append(self._failed(self._error(frame), MessageStatus.ERROR))
        # else `started`, which only names the conversation, or an unasked-for `cancelled`: nothing
        return events

    async def _started_late(self) -> Conversation | None:
        """A classic error frame names no conversation: the one asked for, or the one just made."""
        if self.conversation_id is not None:
            return await self.conversations.conversation_for(self.conversation_id, self.prompt)
        return await self.conversations.find_new_conversation(self.prompt)

    def _user_message(self, conversation: Conversation, frame: ServerFrame) -> Message:
        stored = frame.user_message_id if isinstance(frame, StartedFrame) else None  # a classic server: unknown
        return Message(id=stored or 0, conversation_id=conversation.id, role="user", content=self.prompt,
                       created_at=datetime.now(UTC), attachments=tuple(a for _, a in self.attached))  # fmt: skip

    def _chunk(self, frame: DeltaChunk | ContentChunk) -> tuple[ReplyEvent, ...]:
        """A chunk once the reply has started: its new text, or the end of a reply gone wrong."""
        if self.conversation is not None and frame.conversation_id != self.conversation.id:
            log.warning("ignored a frame for another conversation", extra={"request_id": self.request_id})
            return ()  # our id, someone else's conversation: never let text cross over
        piece = self._piece(frame)
        if isinstance(piece, CodheError):
            self.finished = True
            return (self._failed(piece, MessageStatus.ERROR),)
        if not piece:
            return ()
        self.seen += piece
        return (ReplyDelta(piece),)

    def _piece(self, frame: DeltaChunk | ContentChunk) -> str | CodheError:
        """The new text of a chunk: its `delta`, or its whole-reply `content` minus what we have."""
        if isinstance(frame, DeltaChunk):
            return frame.delta
        if frame.content.startswith(self.seen):
            return frame.content[len(self.seen) :]
        if self.seen.startswith(frame.content):
            return ""  # a stale repeat
        return RemoteError("The server sent a chunk that does not continue the reply: not of the CoDHeChat protocol.",
                           ABANDONED)  # fmt: skip

    @staticmethod
    def _error(frame: ErrorFrame) -> CodheError:
        if frame.detail == CONVERSATION_NOT_FOUND:
            return RemoteError("That conversation does not exist on the server (any more).",
                               "Start a new conversation with Ctrl+N.")  # fmt: skip
        return RemoteError(f"The server could not reply: {frame.detail or 'no detail given'}",
                           "Retry.")  # fmt: skip

    def _failed(self, error: CodheError, status: MessageStatus) -> ReplyFailed:
        if self.conversation is None:
            return ReplyFailed(error, None)
        message = Message(id=0, conversation_id=self.conversation.id, role="assistant", content=self.seen,
                          created_at=datetime.now(UTC), status=status, error=error.message)  # fmt: skip
        return ReplyFailed(error, message)
