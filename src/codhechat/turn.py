"""One turn of a conversation, wherever it is stored.

Prompt assembly (the system prompt and the history fitted to the context window),
streaming through the ModelClient, throttled saves of the partial reply, and the
final status with why the reply ended: the same for every caller, over the small
`ReplyStore` interface that says where replies are kept. Words for the user ("press
Ctrl+R") stay with the callers; this module only reports what happened.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

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
    ReplyNotice,
    ReplyPrompt,
    ReplyThinking,
)
from codhechat.reply_store import Ending, ReplyStore, ToolReplyStore
from codhechat.thinking import Thinking
from codhechat.tool_rounds import ToolRounds, history_dicts

if TYPE_CHECKING:
    from codhechat.tools.toolbox import Toolbox

__all__ = ["SAVE_INTERVAL_S", "Ending", "ReplyStore", "TurnPlan", "run_turn"]

SAVE_INTERVAL_S = 1.0  # how often a streaming reply is written: crash safety without per-token writes

# Sent (never stored) to ask for the rest of a reply cut at the length limit; the new
# text is appended to that reply, so it reads as one.
CONTINUE_PROMPT = (
    "Your previous reply was cut off by the length limit. Continue it exactly where it "
    "stopped, without repeating anything or adding any preamble."
)


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
    alternative_to: int | None = None  # a reply this one is a sibling of (kept); dropped if this gets no text
    provider: str | None = None  # a configured provider: replies are labelled PROVIDER/MODEL
    options: Mapping[str, float | int | str] = field(default_factory=dict)  # generation parameters
    parts: Mapping[int, Sequence[dict[str, Any]]] = field(default_factory=dict)  # message id -> its files' parts
    reasoning: bool = True  # ask for the model's thinking (kept apart, never sent back)
    tools_off: frozenset[str] = frozenset()  # tools (or MCP servers) not offered in this conversation

    def label(self, answered: str | None) -> str:
        """What a reply is labelled with: the model the endpoint says answered, if it said."""
        model = answered or self.model
        return f"{self.provider}/{model}" if self.provider else model


class _Reply:
    """What has arrived of a reply so far, and how to store how it ended."""

    def __init__(self, plan: TurnPlan, message_id: int, extends: Message | None) -> None:
        self.plan = plan
        self.message_id = message_id
        self.answer: list[str] = [extends.content if extends is not None else ""]
        self.thinking: list[str] = [extends.reasoning or ""] if extends is not None else []
        self.outcome = StreamOutcome()
        self.started = time.monotonic()
        self.thought_for: float | None = None  # seconds of thinking before the answer began

    @property
    def text(self) -> str:
        return "".join(self.answer)

    def add(self, piece: str) -> ReplyEvent:
        if isinstance(piece, Thinking):
            self.thinking.append(piece)
            return ReplyThinking(str(piece))
        if self.thought_for is None and self.thinking:
            self.thought_for = time.monotonic() - self.started
        self.answer.append(piece)
        return ReplyDelta(piece)

    def ending(self, status: MessageStatus, *, error: str | None = None, reason: str | None = None) -> Ending:
        outcome = self.outcome
        if self.thinking and self.thought_for is None:
            self.thought_for = time.monotonic() - self.started  # it only thought
        return Ending(
            self.message_id, self.text, status, error, outcome.usage, reason or outcome.finish_reason,
            self.plan.label(outcome.model), reasoning="".join(self.thinking) or None,
            thinking_ms=round(self.thought_for * 1000) if self.thought_for is not None else None,
            elapsed_ms=round((time.monotonic() - self.started) * 1000),
            tool_calls=tuple(outcome.tool_calls.calls()) if status == MessageStatus.COMPLETE else (),
        )  # fmt: skip


async def run_turn(
    client: ModelClient,
    store: ReplyStore,
    plan: TurnPlan,
    *,
    calibration: Calibration,
    save_interval: float = SAVE_INTERVAL_S,
    tools: Toolbox | None = None,
    save_first: bool = False,
) -> AsyncGenerator[ReplyEvent, None]:
    """Stream one reply: ReplyPrompt, then ReplyThinking / ReplyDelta per piece, then
    ReplyDone or ReplyFailed. With `tools`, the model may ask to run some: each call is
    a ReplyToolCall (the turn waits for its approval), then a ReplyToolResult, and the
    model's next round streams on, as a new reply, until one asks for no tools.

    `save_first`: offer the text for saving at its first piece, then every
    `save_interval` (the server: a reply shows in the conversation as soon as it has
    text; local mode starts the interval at the start, its row exists already)."""
    history = history_dicts(plan.history, lambda m: _content(m, plan), plan.parts)
    if plan.extends is not None:
        history.append({"role": "user", "content": CONTINUE_PROMPT})
    # Whoever gives the turn tools gives it a store that keeps their results (local mode's).
    rounds = ToolRounds(tools, cast(ToolReplyStore, store), plan.conversation_id) if tools else None
    if rounds is not None:
        async for event in rounds.prepare(plan.tools_off, plan.model):
            yield event
    fitted = fit({"role": "system", "content": plan.system_prompt}, history, window=plan.window,
                 model=plan.model, calibration=calibration,
                 reply_tokens=plan.options.get("max_tokens"))  # fmt: skip
    messages = ToolRounds.complete(fitted.messages)
    yield ReplyPrompt(left_out=fitted.left_out, estimated_tokens=fitted.estimated_tokens, window=plan.window)

    extends, replaced = plan.extends, plan.replaces
    while True:
        message_id = (
            extends.id if extends is not None else await store.start_reply(plan.conversation_id, model=plan.label(None))
        )
        reply = _Reply(plan, message_id, extends)
        ending: Ending | None = None
        last_save = float("-inf") if save_first else time.monotonic()
        try:
            try:
                stream = client.stream_chat(messages, model=plan.model, outcome=reply.outcome, usage=True,
                                            reasoning=plan.reasoning, options=dict(plan.options),
                                            tools=rounds.functions() if rounds else None)  # fmt: skip
                async with aclosing(stream):  # closed at once when the turn stops, not when collected
                    async for piece in stream:
                        event = reply.add(piece)
                        if replaced is not None:  # the retry has text of its own: the old reply can go
                            await _discard(store, replaced)
                            replaced = None
                        yield event
                        if time.monotonic() - last_save >= save_interval:
                            last_save = time.monotonic()
                            await _save_progress(store, message_id, reply.text)
            except CodheError as exc:
                ending = reply.ending(MessageStatus.ERROR, error=exc.message,
                                      reason=FinishReason.CUT if isinstance(exc, ReplyCut) else None)  # fmt: skip
                if rounds is not None and extends is None and not ending.content and rounds.refused(exc, plan.model):
                    await _discard(store, message_id)
                    yield ReplyNotice(f"{plan.label(None)} does not take tools: it answers without them.")
                    continue  # the same round again, without tools
                if (replaced is not None or plan.alternative_to is not None) and not ending.content:
                    await _discard(store, message_id)  # nothing new: the reply it would replace stays
                    yield ReplyFailed(exc, None)
                    return
                try:
                    stored: Message | None = await store.end_reply(ending)
                except StorageError:
                    stored = None
                yield ReplyFailed(exc, stored)
                return
            if reply.outcome.usage is not None and (rounds is None or rounds.count == 0):
                calibration.learn(plan.model, fitted.estimated_tokens, reply.outcome.usage[0])
            ending = reply.ending(MessageStatus.COMPLETE)
            try:
                done = await store.end_reply(ending)
            except StorageError as exc:
                yield ReplyFailed(exc, None)
                return
            if rounds is None or not ending.tool_calls:
                yield ReplyDone(done)
                return
        finally:
            if ending is None:  # stopped, cancelled or shutting down: keep what arrived
                store.end_reply_now(reply.ending(MessageStatus.PARTIAL, reason=FinishReason.STOPPED))
        if replaced is not None:  # a round of tool calls is new text too
            await _discard(store, replaced)
            replaced = None
        async for event in rounds.run(done, messages):
            yield event
        if rounds.stopped is not None:
            yield ReplyFailed(rounds.stopped, done)
            return
        extends = None


def _content(message: Message, plan: TurnPlan) -> str | list[dict[str, Any]]:
    """A message as the model gets it: its text, or its text and its attached files' parts."""
    files = plan.parts.get(message.id)
    if not files:
        return message.content
    return [{"type": "text", "text": message.content}, *files] if message.content else list(files)


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
