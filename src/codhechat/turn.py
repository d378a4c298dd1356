"""One turn of a conversation, wherever it is stored.

Prompt assembly (the system prompt and the history fitted to the context window),
streaming through the ModelClient, throttled saves of the partial reply, and the
final status with why the reply ended: the same for every caller, over the small
`ReplyStore` interface that says where replies are kept. Words for the user ("press
Ctrl+R") stay with the callers; this module only reports what happened.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Protocol

from codhechat.context import Calibration, fit
from codhechat.errors import CodheError, ReplyCut, StorageError
from codhechat.llm import ModelClient, StreamOutcome
from codhechat.models import (
    FinishReason,
    Message,
    MessageStatus,
    ReplyDelta,
    ReplyDone,
    ReplyEvent,
    ReplyFailed,
    ReplyPrompt,
)

SAVE_INTERVAL_S = 1.0  # how often a streaming reply is written: crash safety without per-token writes

# Sent (never stored) to ask for the rest of a reply cut at the length limit; the new
# text is appended to that reply, so it reads as one.
CONTINUE_PROMPT = (
    "Your previous reply was cut off by the length limit. Continue it exactly where it "
    "stopped, without repeating anything or adding any preamble."
)


@dataclass(frozen=True, slots=True)
class Ending:
    """How a reply ended, to be stored: its whole text, status and why, usage, model."""

    message_id: int
    content: str
    status: MessageStatus
    error: str | None = None
    usage: tuple[int, int] | None = None
    finish_reason: str | None = None
    model: str | None = None


class ReplyStore(Protocol):
    """Where a turn keeps its reply (the local Store; the server's database)."""

    async def start_reply(self, conversation_id: int, *, model: str) -> int:
        """Store an empty, partial assistant message; returns its id."""
        ...

    async def save_progress(self, message_id: int, content: str) -> None:
        """Store the text so far; never shrinks it (a late save cannot undo a newer one)."""
        ...

    async def end_reply(self, ending: Ending) -> Message:
        """Store how the reply ended (raises StorageError if it cannot)."""
        ...

    def end_reply_now(self, ending: Ending) -> None:
        """The same, without waiting: the turn was cancelled and the event loop may not
        run another step for it (the app is quitting)."""
        ...

    async def discard_reply(self, message_id: int) -> None:
        """Delete a reply: the one a retry replaces, once the retry has text of its own."""
        ...


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """Everything one turn needs to know before it starts."""

    conversation_id: int
    model: str  # as the endpoint knows it
    system_prompt: str
    history: Sequence[Message]  # oldest first; the message to answer last
    window: int | None  # the model's context in tokens, if known
    replaces: int | None = None  # a failed reply to delete once this one has text
    extends: Message | None = None  # a reply cut at the length limit, to continue in place
    provider: str | None = None  # a configured provider: replies are labelled PROVIDER/MODEL

    def label(self, answered: str | None) -> str:
        """What a reply is labelled with: the model the endpoint says answered, if it said."""
        model = answered or self.model
        return f"{self.provider}/{model}" if self.provider else model


async def run_turn(
    client: ModelClient,
    store: ReplyStore,
    plan: TurnPlan,
    *,
    calibration: Calibration,
    save_interval: float = SAVE_INTERVAL_S,
) -> AsyncIterator[ReplyEvent]:
    """Stream one reply: ReplyPrompt, then ReplyDelta per piece, then ReplyDone or ReplyFailed."""
    history = [{"role": m.role, "content": m.content} for m in plan.history if m.content]
    if plan.extends is not None:
        history.append({"role": "user", "content": CONTINUE_PROMPT})
    fitted = fit({"role": "system", "content": plan.system_prompt}, history, window=plan.window,
                 model=plan.model, calibration=calibration)  # fmt: skip
    yield ReplyPrompt(left_out=fitted.left_out, estimated_tokens=fitted.estimated_tokens, window=plan.window)

    prefix = plan.extends.content if plan.extends is not None else ""
    message_id = plan.extends.id if plan.extends is not None else await store.start_reply(
        plan.conversation_id, model=plan.label(None)
    )
    parts: list[str] = [prefix]
    outcome = StreamOutcome()
    ending: Ending | None = None
    last_save = time.monotonic()
    replaced = plan.replaces
    try:
        try:
            stream = client.stream_chat(fitted.messages, model=plan.model, outcome=outcome, usage=True)
            async with aclosing(stream):  # closed at once when the turn stops, not when collected
                async for text in stream:
                    parts.append(text)
                    if replaced is not None:  # the retry has text of its own: the old reply can go
                        await _discard(store, replaced)
                        replaced = None
                    yield ReplyDelta(text)
                    if time.monotonic() - last_save >= save_interval:
                        last_save = time.monotonic()
                        await _save_progress(store, message_id, "".join(parts))
        except CodheError as exc:
            reason = FinishReason.CUT if isinstance(exc, ReplyCut) else None
            ending = Ending(message_id, "".join(parts), MessageStatus.ERROR, exc.message, outcome.usage,
                            reason, plan.label(outcome.model))  # fmt: skip
            if replaced is not None and not ending.content:
                await _discard(store, message_id)  # nothing new: the reply it would replace stays
                yield ReplyFailed(exc, None)
                return
            try:
                stored: Message | None = await store.end_reply(ending)
            except StorageError:
                stored = None
            yield ReplyFailed(exc, stored)
            return
        if outcome.usage is not None:
            calibration.learn(plan.model, fitted.estimated_tokens, outcome.usage[0])
        ending = Ending(message_id, "".join(parts), MessageStatus.COMPLETE, None, outcome.usage,
                        outcome.finish_reason, plan.label(outcome.model))  # fmt: skip
        try:
            done = await store.end_reply(ending)
        except StorageError as exc:
            yield ReplyFailed(exc, None)
            return
        yield ReplyDone(done)
    finally:
        if ending is None:
            # Stopped, cancelled or shutting down: keep what arrived.
            store.end_reply_now(
                Ending(message_id, "".join(parts), MessageStatus.PARTIAL, None, outcome.usage,
                       FinishReason.STOPPED, plan.label(outcome.model))  # fmt: skip
            )


async def _save_progress(store: ReplyStore, message_id: int, content: str) -> None:
    """A failed intermediate save must not kill the stream; the final one reports."""
    try:
        await store.save_progress(message_id, content)
    except StorageError:
        pass


async def _discard(store: ReplyStore, message_id: int) -> None:
    try:
        await store.discard_reply(message_id)
    except StorageError:
        pass
