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


async def tool_event(session: SessionReplies, reply: LiveReply,
                     event: ReplyToolCall | ReplyToolResult | ReplyNotice) -> None:  # fmt: skip
    if isinstance(event, ReplyNotice):
        await _add(session, LiveNotice(event.text))
    elif isinstance(event, ReplyToolCall):
        if reply.status is None:  # the reply that asked is done
            message = event.reply
            reply.status, reply.usage, reply.finish_reason = MessageStatus.COMPLETE, usage_of(message), FinishReason.TOOL_CALLS
            reply.elapsed_ms = message.elapsed_ms
            session.view.reply_ended(reply)
        await _add(session, LiveTool(event.call, event.server, event.approval if event.approval.needed else None))
    else:
        entry = next((e for e in reversed(session.window.entries)
                      if isinstance(e, LiveTool) and e.call.id == event.call.id and e.result is None), None)  # fmt: skip
        if entry is not None:
            entry.approval, entry.result, entry.failed = None, event.message.content, event.failed
            entry.changed()


async def next_round(session: SessionReplies, ended: LiveReply) -> LiveReply:
    """The reply of the model's next round, in place of the one that asked for tools."""
    reply = LiveReply(ended.conversation_id, ended.model)
    reply.task = ended.task
    session.live[session.live.index(ended)] = reply
    await _add(session, reply)
    return reply


def stopped(session: SessionReplies) -> None:
    """The turn stopped: a call still waiting for its approval or its result never will."""
    for entry in session.window.entries:
        if isinstance(entry, LiveTool) and entry.result is None and not entry.stopped:
            entry.approval, entry.stopped = None, True
            entry.changed()


async def _add(session: SessionReplies, entry: Entry) -> None:
    if any(e is entry for e in session.window.entries):
        return
    session.window.entries.append(entry)
    await session.view.entries_added([entry])
