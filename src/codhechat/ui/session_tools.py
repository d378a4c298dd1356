"""The tool events of a reply, as the session follows them (plain, no Textual).

A round of tool calls ends the reply that asked for them; each call is an entry of its
own (LiveTool), asked about in the pane while its approval waits, then given its result;
the model's next round is a new reply under them.
"""

from __future__ import annotations

from typing import Any, Protocol

from codhechat.models import FinishReason, MessageStatus, ReplyNotice, ReplyToolCall, ReplyToolResult
from codhechat.ui.transcript import Entry, LiveNotice, LiveReply, LiveTool, Window, usage_of


class SessionReplies(Protocol):
    """What of the session (session_replies.SessionReplies) this needs."""

    view: Any  # its SessionView
    window: Window
    live: list[LiveReply]
    calls: list[LiveTool]  # tool calls without a result yet, in any conversation

    async def _remove(self, entry: Entry) -> None: ...


async def tool_event(session: SessionReplies, reply: LiveReply,
                     event: ReplyToolCall | ReplyToolResult | ReplyNotice) -> None:  # fmt: skip
    if isinstance(event, ReplyNotice):
        await _add(session, LiveNotice(event.text))
    elif isinstance(event, ReplyToolCall):
        if reply.status is None:  # the reply that asked is done
            message = event.reply
            reply.status, reply.usage, reply.elapsed_ms = MessageStatus.COMPLETE, usage_of(message), message.elapsed_ms
            reply.finish_reason = FinishReason.TOOL_CALLS
            session.view.reply_ended(reply)
            if reply.replaces is not None:  # a round of calls is new too: the reply it replaces goes
                replaced, reply.replaces = reply.replaces, None
                await session._remove(replaced)
        entry = LiveTool(event.call, event.server, reply.conversation_id,
                         event.approval if event.approval.needed else None)  # fmt: skip
        session.calls.append(entry)
        await _add(session, entry)
    else:
        found = next((e for e in session.calls if e.call.id == event.call.id), None)
        if found is not None:
            session.calls.remove(found)
            found.approval, found.result, found.failed = None, event.message.content, event.failed
            found.changed()


async def next_round(session: SessionReplies, ended: LiveReply) -> LiveReply:
    """The reply of the model's next round, in place of the one that asked for tools."""
    reply = LiveReply(ended.conversation_id, ended.model)
    reply.task = ended.task
    session.live[session.live.index(ended)] = reply
    await _add(session, reply)
    return reply


def stopped(session: SessionReplies, conversation_id: int | None) -> None:
    """The turn stopped: a call still waiting for its approval or its result never will."""
    for entry in [e for e in session.calls if e.conversation_id == conversation_id]:
        session.calls.remove(entry)
        entry.approval, entry.stopped = None, True
        entry.changed()


def waiting(session: SessionReplies, conversation_id: int) -> list[LiveTool]:
    """The conversation's calls still waiting (shown again when it is opened again)."""
    return [e for e in session.calls if e.conversation_id == conversation_id]


async def _add(session: SessionReplies, entry: Entry) -> None:
    if any(e is entry for e in session.window.entries):
        return
    session.window.entries.append(entry)
    await session.view.entries_added([entry])
