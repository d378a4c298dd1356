"""The replies of a ChatSession: sending, stopping, retrying, continuing, regenerating,
and what each reply's events do to the session's state. A part of ChatSession (its base
class), kept apart because it is the part that follows a reply through its life."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Protocol

from codhechat.errors import CodheError
from codhechat.models import (
    AttachedFile,
    Conversation,
    FinishReason,
    Message,
    MessageStatus,
    ReplyDelta,
    ReplyDone,
    ReplyEvent,
    ReplyFailed,
    ReplyNotice,
    ReplyPrompt,
    ReplyStarted,
    ReplyThinking,
    ReplyToolCall,
    ReplyToolResult,
)
from codhechat.read_pace import read_pace
from codhechat.ui.session_tools import next_round, stopped, tool_event
from codhechat.ui.transcript import PAGE, Cancellable, Entry, LiveReply, LiveTool, SentPrompt, Window, usage_of

if TYPE_CHECKING:
    from codhechat.backends import ChatBackend


class SessionView(Protocol):
    """What a screen showing a session implements."""

    def run_reply(self, work: Coroutine[Any, Any, None]) -> Cancellable:
        """Run a reply's coroutine (tied to the screen, so it ends with it)."""
        ...

    async def show_window(self) -> None:
        """The window was replaced (another conversation, or a new one): show it all."""
        ...

    async def entries_added(self, entries: list[Entry]) -> None:
        """Entries were appended to the window."""
        ...

    async def entry_removed(self, entry: Entry) -> None:
        """An entry was taken out of the window (a reply about to be replaced)."""
        ...

    def conversations_changed(self) -> None:
        """The list, or the open conversation's title, model or options, changed."""
        ...

    def live_changed(self) -> None:
        """A reply started or ended: what is generating where."""
        ...

    def reply_grew(self, reply: LiveReply, text: str) -> None: ...

    def read_wait(self, reply: LiveReply) -> float:
        """Seconds until the reply's view can show more text (0: now): the model's stream is
        read no sooner (codhechat.read_pace), so what arrives meanwhile is read in one go."""
        ...

    def reply_thought(self, reply: LiveReply, text: str) -> None:
        """A piece of a reasoning model's thinking arrived (shown apart from the answer)."""
        ...

    def reply_prompted(self, reply: LiveReply) -> None:
        """What was sent is known: `reply.left_out` earlier messages did not fit `reply.window`."""
        ...

    def reply_ended(self, reply: LiveReply) -> None:
        """`reply.status` is set: complete, stopped (partial) or failed."""
        ...

    def reply_not_sent(self, reply: LiveReply, error: CodheError, prompt: str | None) -> None:
        """Nothing was stored: `prompt`, if given, should go back to the user to resend."""
        ...

    def entry_stored(self, entry: Entry) -> None:
        """A prompt shown before it was stored has its stored copy (`entry.stored`) now,
        which says where it branches (an edit is a new version of a message)."""
        ...


class SessionReplies:
    """The replies' half of ChatSession. Needs, from ChatSession: backend, view, conversation_id, window, live, model_for,
    upsert, _touch, _remove."""

    backend: ChatBackend
    view: SessionView
    conversation_id: int | None
    window: Window
    live: list[LiveReply]
    calls: list[LiveTool]
    # ChatSession's methods, declared for the type checker (the mixin has no definitions of its own).
    model_for: Callable[[int | None], str]
    upsert: Callable[[Conversation], None]
    _touch: Callable[[int], None]
    _remove: Callable[[Entry], Coroutine[Any, Any, None]]

    def live_for(self, conversation_id: int | None) -> LiveReply | None:
        return next((r for r in self.live if r.conversation_id == conversation_id), None)

    async def send(self, text: str, attachments: Sequence[AttachedFile] = ()) -> None:
        """Send `text` (with the files attached to it) in the open conversation (a new one
        if none is open)."""
        prompt = SentPrompt(text, tuple(f.attachment for f in attachments),
                            images=tuple(f for f in attachments if f.attachment.kind == "image"))  # fmt: skip
        if attachments:
            events = self.backend.stream_reply(self.conversation_id, text, attachments=attachments)
        else:
            events = self.backend.stream_reply(self.conversation_id, text)
        await self._reply(events, prompt, resend=text)

    async def _reply(
        self, events: AsyncGenerator[ReplyEvent, None], *before: Entry, resend: str | None = None,
        replaces: Entry | None = None, text: str = "",
    ) -> None:  # fmt: skip
        """Show `before` and a new reply under the window, and run it. `resend` is the
        prompt to give back if the backend fails before storing it; `replaces`, an entry
        the reply takes the place of once it has text (kept if it gets none); `text`, what
        the reply already says (a reply being continued)."""
        reply = LiveReply(self.conversation_id, self.model_for(self.conversation_id), replaces=replaces)
        if text:
            reply.parts.append(text)
        self.window.entries += [*before, reply]
        await self.view.entries_added([*before, reply])
        self.live.append(reply)
        reply.task = self.view.run_reply(self._run(reply, events, resend))
        self.view.live_changed()

    def stop(self) -> None:
        """Stop the open conversation's reply, keeping what arrived."""
        reply = self.live_for(self.conversation_id)
        if reply is not None and reply.task is not None:
            reply.task.cancel()

    async def stop_all(self) -> None:
        """Cancel every reply and wait until each has stored what arrived."""
        tasks = [r.task for r in self.live if r.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task.wait()
            except Exception:  # a cancelled or failed reply: it said so itself
                pass

    async def retry(self) -> str | None:
        """Generate again the open conversation's failed, stopped or missing last reply;
        or say (the returned text) why there is nothing to retry."""
        if self.live_for(self.conversation_id) is not None:
            return None
        if self.conversation_id is None:
            return await self._resend_unstored()
        entries = self.window.entries
        last = entries[-1] if entries else None
        unanswered = isinstance(last, Message) and last.role == "user"
        failed = (isinstance(last, LiveReply) and last.status not in (None, MessageStatus.COMPLETE)) or (
            isinstance(last, Message) and last.status != MessageStatus.COMPLETE
        )
        if not (unanswered or failed):
            return "The last reply is complete: nothing to retry."
        # The failed reply stays on screen until the new one has text of its own.
        await self._reply(self.backend.retry_reply(self.conversation_id), replaces=None if unanswered else last)
        return None

    async def continue_reply(self) -> str | None:
        """Ask for the rest of the open conversation's last reply, cut at the length limit
        (or stopped): it is extended in place. Or say why there is nothing to continue."""
        if self.live_for(self.conversation_id) is not None:
            return None
        if (why := self.why_not_continue()) is not None:
            return why
        finished = self.finished_reply()
        assert finished is not None and self.conversation_id is not None
        old, _, text = finished
        await self._remove(old)
        await self._reply(self.backend.continue_reply(self.conversation_id), text=text)
        return None

    def why_not_continue(self) -> str | None:
        """Why the open conversation's last reply cannot be continued (None: it can, being
        cut at the length limit, stopped or failed part-way)."""
        finished = self.finished_reply() if self.conversation_id is not None else None
        if finished is None or not finished[2]:
            return "There is no reply here to continue."
        old, complete, _ = finished
        reason = old.finish_reason if isinstance(old, Message | LiveReply) else None
        if complete and reason != FinishReason.LENGTH:
            return "The last reply is complete: there is nothing to continue."
        return None

    async def _resend_unstored(self) -> str | None:
        """The first message of a new conversation failed before the server named the
        conversation (a classic server's socket dropped first): send the kept prompt
        again, as the first message of a new conversation."""
        entries = self.window.entries
        failed = entries[-1] if entries else None
        prompt = entries[-2] if len(entries) >= 2 else None
        if not (isinstance(failed, LiveReply) and failed.status not in (None, MessageStatus.COMPLETE)
                and isinstance(prompt, SentPrompt)):  # fmt: skip
            return "There is nothing here to retry."
        await self._remove(failed)
        await self._reply(self.backend.stream_reply(None, prompt.text), resend=prompt.text)
        return None

    def finished_reply(self) -> tuple[Entry, bool, str] | None:
        """The open conversation's last reply if it has ended: (it, complete?, its text)."""
        entries = self.window.entries
        last = entries[-1] if entries else None
        if isinstance(last, Message) and last.role == "assistant":
            return last, last.status == MessageStatus.COMPLETE, last.content
        if isinstance(last, LiveReply) and last.status is not None:
            return last, last.status == MessageStatus.COMPLETE, last.text
        return None

    async def regenerate(self, old: Entry) -> None:
        """Replace the open conversation's last reply, `old`, with a new one (it stays on
        screen until the new one has text; where the backend keeps branches, it stays
        stored too, as the new one's sibling)."""
        assert self.conversation_id is not None
        await self._reply(self.backend.regenerate_reply(self.conversation_id), replaces=old)

    async def resend_edited(self, message: Message, text: str) -> None:
        """Replace one of the user's messages with `text` and reply to it (where the backend
        keeps branches, the old version stays, one branch away; else every later one goes).
        Raises CodheError (and then nothing changes)."""
        conversation_id = message.conversation_id
        earlier = await self.backend.get_messages(conversation_id, before=message.id, limit=PAGE + 1)
        self.conversation_id = conversation_id
        self.window = Window(list(earlier[-PAGE:]), has_older=len(earlier) > PAGE)
        await self.view.show_window()
        events = self.backend.edit_and_resend(conversation_id, message.id, text)
        await self._reply(events, SentPrompt(text))

    async def _run(self, reply: LiveReply, events: AsyncGenerator[ReplyEvent, None], resend: str | None) -> None:
        started = False
        pacing = read_pace.set(lambda: self.view.read_wait(reply))  # `reply`: the current round's
        try:
            # Backends' streams are async generators: closed here, so a stopped reply's backend
            # runs its cleanup (storing what arrived) now.
            async with aclosing(events) as stream:
                async for event in stream:
                    started = started or isinstance(event, ReplyStarted)
                    if isinstance(event, ReplyToolCall | ReplyToolResult | ReplyNotice):
                        await tool_event(self, reply, event)
                        continue
                    if reply.status is not None:  # a round of tool calls ended it
                        reply = await next_round(self, reply)
                    self._on_event(reply, event)
                    if reply.replaces is not None and isinstance(event, ReplyDelta | ReplyThinking):
                        replaced, reply.replaces = reply.replaces, None
                        await self._remove(replaced)  # the new reply has text: the old one goes
            if reply.replaces is not None and not reply.text and reply.status == MessageStatus.ERROR:
                await self._remove(reply)  # nothing new: the reply it would replace stays, as it was
        except CodheError as exc:
            # Nothing was stored (the database failed before the prompt was saved).
            reply.status, reply.error, reply.hint = MessageStatus.ERROR, exc.message, exc.hint
            self.view.reply_not_sent(reply, exc, None if started else resend)
        except BaseException:
            stopped(self, reply.conversation_id)
            if reply.status is None:
                reply.status = MessageStatus.PARTIAL
                self.view.reply_ended(reply)
            raise
        finally:
            read_pace.reset(pacing)
            self.live.remove(reply)
            self.view.live_changed()

    def _on_event(self, reply: LiveReply, event: ReplyEvent) -> None:
        match event:
            case ReplyDelta(text=text):
                reply.parts.append(text)
                self.view.reply_grew(reply, text)
            case ReplyThinking(text=text):
                reply.thinking.append(text)
                self.view.reply_thought(reply, text)
            case ReplyPrompt(left_out=left_out, window=window):
                reply.left_out, reply.window = left_out, window
                self.view.reply_prompted(reply)
            case ReplyStarted(conversation=conversation, user_message=user_message):
                reply.conversation_id = conversation.id
                entries = self.window.entries
                index = next((i for i, e in enumerate(entries) if e is reply), 0)
                if user_message is not None and index and isinstance(prompt := entries[index - 1], SentPrompt):
                    prompt.stored = user_message
                    if user_message.branch is not None:
                        self.view.entry_stored(prompt)
                if self.conversation_id is None and any(e is reply for e in self.window.entries):
                    self.conversation_id = conversation.id  # the new conversation is the open one
                self.upsert(conversation)
            case ReplyDone(message=message):
                reply.status, reply.usage, reply.stored = MessageStatus.COMPLETE, usage_of(message), message
                reply.finish_reason, reply.thinking_ms, reply.elapsed_ms = (
                    message.finish_reason, message.thinking_ms, message.elapsed_ms)  # fmt: skip
                if message.model:
                    reply.model = message.model  # as the endpoint named it
                self.view.reply_ended(reply)
                self._touch(message.conversation_id)
            case ReplyFailed(error=error, message=message):
                reply.status, reply.stored = MessageStatus.ERROR, message
                if message is not None:
                    reply.finish_reason = message.finish_reason
                if isinstance(error, CodheError):
                    reply.error, reply.hint = error.message, error.hint
                else:
                    reply.error = str(error)
                self.view.reply_ended(reply)
                if message is not None:
                    self._touch(message.conversation_id)
