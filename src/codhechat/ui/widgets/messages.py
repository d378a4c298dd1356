"""Message views, one per entry of the session's window (codhechat.ui.session):
a stored message, a prompt just sent, a reply as it streams.

A finished message is one widget rendering rich Markdown, not a tree of
widgets per block, so even hundreds mount quickly. The pane (widgets/pane.py)
mounts at most MAX_MOUNTED of them, the window's bound, so a conversation of
any length opens as fast, and weighs as little, as a short one.
"""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.text import Text
from textual import events
from textual.containers import Vertical
from textual.visual import VisualType
from textual.widget import AwaitMount, Widget
from textual.widgets import Collapsible, Static

from codhechat.models import FinishReason, Message, MessageStatus
from codhechat.textsafe import visible
from codhechat.ui.frame_timer import FrameTimer
from codhechat.ui.held_updates import hold_updates_until
from codhechat.ui.markdown_pieces import PIECE_CHARS, Piece, PieceStream
from codhechat.ui.stream_pace import wait_to_read
from codhechat.ui.text import plain
from codhechat.ui.transcript import MAX_WINDOW, Entry, LiveNotice, LiveReply, LiveTool, SentPrompt, usage_of
from codhechat.ui.widgets.branches import BranchStep, add_marker, step_at
from codhechat.ui.widgets.frozen_pieces import FrozenPieces
from codhechat.ui.widgets.headers import attachment_chips, header_of, notice_of, prompt_note, thought_for
from codhechat.ui.widgets.laid_out import PiecesColumn, SizedByLayout
from codhechat.ui.widgets.piece_view import MarkdownPiece, RenderedOnce, code_theme, piece_markdown, stream_pace
from codhechat.ui.widgets.thinking_text import ThinkingText

MAX_MOUNTED = MAX_WINDOW  # one view per entry of the window: bench/long_history.py checks it
# A live tail is cut when it outgrows its room, not at PIECE_CHARS (see ReplyView._flush),
# unless a frame brings this much at once (a backlog: cut at once, as it comes) or it
# reaches the most a frame should re-render.
HOLD_BELOW_CHARS = PIECE_CHARS // 2
HOLD_MAX_CHARS = 4 * PIECE_CHARS
# A frame that would bring more than this at once (a burst: 30,000 characters a second at
# 10 frames a second, five times a fast model's steady rate and faster than anyone reads)
# is put off, so the reading and decoding it would hold up go first; but a frame is drawn
# at least every BURST_WAIT_S, counted from the reply's first text.
BURST_CHARS = 2 * PIECE_CHARS
BURST_WAIT_S = 0.3


class MessageView(Widget):
    """A stored message, rendered as one widget. A reasoning model's thinking is one dim
    line ("Thought for 3.2 s"); a click on the message shows it whole, or hides it."""

    def __init__(self, message: Message) -> None:
        super().__init__(classes=f"message {message.role}")
        self.message = message
        self.show_thinking = False
        self._rendered = RenderedOnce(self._build)

    def header_line(self) -> tuple[Text, int | None]:
        """Its header, and where its branch marker starts (if it has other versions)."""
        message = self.message
        header = header_of(message.role, message.model, usage_of(message), message.elapsed_ms)
        return header, add_marker(header, message.branch)

    def on_click(self, event: events.Click) -> None:
        if step := step_at(event, self, *self.header_line()):
            self.post_message(BranchStep(self.message, step))
        elif self.message.reasoning:
            self.show_thinking = not self.show_thinking
            self._rendered.invalidate()
            self.refresh(layout=True)

    @property
    def entry(self) -> Entry:
        return self.message

    @property
    def notice(self) -> Text | None:
        """What went wrong with this message, if anything (shown under it)."""
        return notice_of(self.message.status, self.message.error, self.message.finish_reason)

    def render(self) -> VisualType:  # Widget.render's type: LongMessageView returns the container's
        return self._rendered.get(code_theme(self))

    def head_parts(self) -> list[RenderableType]:
        """What comes before the text: the header (with its branch marker, if any), the
        thinking line (and the thinking, when shown), the attached files."""
        message = self.message
        parts: list[RenderableType] = [self.header_line()[0]]
        if message.reasoning:
            mark = "▾" if self.show_thinking else "▸"
            parts.append(Text(f"{mark} {thought_for(message.thinking_ms)}  (click to {'hide' if self.show_thinking else 'show'})",
                              style="dim italic"))  # fmt: skip
            if self.show_thinking:
                parts.append(plain(message.reasoning, "dim italic"))
        if message.attachments:
            parts.append(attachment_chips(message.attachments))
        return parts

    def _build(self) -> RenderableType:
        return Group(*self.head_parts(), *self.body_parts())

    def body_parts(self) -> list[RenderableType]:
        """What follows the head: the text, the tools it asked for, how it ended."""
        message = self.message
        parts: list[RenderableType] = []
        if message.role == "user":
            parts.append(plain(message.content))
        elif message.content:
            parts.append(piece_markdown(Piece(visible(message.content)), code_theme=code_theme(self)))
        for call in message.tool_calls:
            parts.append(Text.assemble(("⚙ asked to run ", "dim"), (visible(call.name), "bold"),
                                       (f" {visible(' '.join(call.arguments.split()))[:200]}", "dim")))  # fmt: skip
        if notice := self.notice:
            parts.append(notice)
        return parts


class PendingUserView(Static):
    """The user's prompt, shown at once, before the store has given it an id."""

    def __init__(self, prompt: SentPrompt) -> None:
        super().__init__(classes="message user")
        self.entry = prompt
        self.text = prompt.text
        self.show_stored()

    def header_line(self) -> tuple[Text, int | None]:
        stored = self.entry.stored
        header = header_of("user", None)
        return header, add_marker(header, stored.branch if stored else None)

    def show_stored(self) -> None:
        """Render it again: its stored copy says where it branches."""
        chips = [attachment_chips(self.entry.attachments)] if self.entry.attachments else []
        self.update(Group(self.header_line()[0], *chips, plain(self.entry.text)))

    def on_click(self, event: events.Click) -> None:
        if self.entry.stored and (step := step_at(event, self, *self.header_line())):
            self.post_message(BranchStep(self.entry.stored, step))


class ReplyView(Vertical, SizedByLayout):
    """An assistant reply as it streams in.

    Text is buffered and rendered at most once a frame (the app's StreamPace); the
    tail piece, once past PIECE_CHARS, is cut when it outgrows its room (at most
    HOLD_MAX_CHARS), and what it froze joins the one FrozenPieces widget above it, so
    each frame costs the same however long the reply gets. The live piece keeps blank
    room below its text, made `jump_lines` at a time, so the pane following it scrolls
    in steps, not on every line (each scroll repaints the whole pane). A reasoning
    model's thinking streams into a dimmed, collapsible section above the answer, which
    folds away when the answer begins.
    """

    def __init__(self, model: str | None, text: str = "", *, entry: LiveReply | None = None) -> None:
        super().__init__(classes="message assistant reply")
        self.entry = entry  # the session's reply this shows
        self.stored: Message | None = None  # its stored copy, once it ended
        self.model = model
        self._raw: list[str] = []  # as received, for copying; what is shown has controls spelled out
        self._pending: list[str] = []
        self._drawn_at = 0.0  # when the last frame was drawn, or the first text came (BURST_WAIT_S)
        self._pieces = PieceStream()
        self._flush_scheduled = False
        self._frames = FrameTimer(self, self._frame)  # ui/frame_timer.py: one loop timer a frame
        self._last_flush = 0.0
        self._started, self._chars = 0.0, 0  # when text began to arrive, and how much has
        self.status: MessageStatus | None = None  # set when the reply ends
        self._error: str | None = None
        self._finish_reason: str | None = None
        self._usage: tuple[int, int] | None = None
        self._elapsed_ms: int | None = None
        self._thinking: list[str] = []
        self._thinking_ms: int | None = None
        self._note: Text | None = None
        self._branch: tuple[int, int] | None = None
        if entry is not None:
            self._thinking = list(entry.thinking)
            self._note = prompt_note(entry.left_out, entry.window)
        if text:
            self.append(text)

    def compose(self):
        yield Static(self.header_line()[0], classes="header")
        note = Static(self._note or "", classes="prompt-note")
        note.display = self._note is not None
        yield note
        thinking = Collapsible(ThinkingText(classes="thinking-text", live=not self._raw), title="Thinking…", collapsed=bool(self._raw),
                               classes="thinking")  # fmt: skip
        thinking.display = bool(self._thinking)
        yield thinking
        yield PiecesColumn(classes="pieces")
        yield Static(Text("● generating…  (Esc stops)", style="italic"), classes="notice")

    def on_mount(self) -> None:
        self._flush()
        if self.status is not None:  # finished before it was even mounted (a fast failure)
            self._show_outcome()

    def on_unmount(self) -> None:
        self._frames.cancel()

    @property
    def chars_per_s(self) -> float:
        """How fast its text arrives (the live piece makes room in bigger steps when fast)."""
        elapsed = time.monotonic() - self._started if self._started else 0.0
        return self._chars / elapsed if elapsed > 0.5 else 0.0

    @property
    def text(self) -> str:
        return "".join(self._raw)

    def append(self, text: str) -> None:
        if not self._raw and self._thinking and self.is_mounted:
            self._fold_thinking()  # the answer begins: the thinking folds away
        self._raw.append(text)
        self._pending.append(visible(text))
        if not self._started:  # a burst's first frame is put off as its others are
            self._started = self._drawn_at = time.monotonic()
        self._chars += len(text)
        self._schedule()

    def read_wait(self) -> float:
        """Seconds until this view next shows new text (0 when it would show it at once):
        reading the model sooner only makes text that waits (stream_pace.wait_to_read)."""
        idle = not (self._pending or self._flush_scheduled)
        return wait_to_read(self._last_flush, stream_pace(self).frame_s, time.monotonic(), idle=idle)

    def think(self, text: str) -> None:
        """A piece of the model's thinking, before (or without) its answer."""
        self._thinking.append(text)
        self._schedule()

    def _schedule(self) -> None:
        if not self._flush_scheduled and self.is_mounted:
            self._flush_scheduled = True
            self._frames.start(max(0.001, self._last_flush + stream_pace(self).frame_s - time.monotonic()))

    def _frame(self) -> None:
        """A frame is due: drawn, unless it would bring a burst's text (BURST_CHARS) and one
        was drawn less than BURST_WAIT_S ago. Drawing a burst as it comes costs more than
        reading it (each frame lays out and paints what it brings), so a reply arriving all
        at once showed its end later than if its middle were skipped."""
        now = time.monotonic()
        burst = sum(map(len, self._pending)) > BURST_CHARS  # a few dozen pieces at most: coalesced
        if self.status is None and burst and now - self._drawn_at < BURST_WAIT_S:
            self._last_flush = now  # read_wait: the next frame is a frame away
            self._frames.start(stream_pace(self).frame_s)
            return
        self._drawn_at = now
        self._flush()

    def _fold_thinking(self) -> None:
        section = self.query_one(".thinking", Collapsible)
        section.collapsed = True
        section.query_one(ThinkingText).end()
        section.title = thought_for(self._thinking_ms) if self._thinking_ms is not None else "Thought (click to show)"

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._last_flush = time.monotonic()
        if self._thinking:
            section = self.query_one(".thinking", Collapsible)
            section.display = True
            if not section.collapsed:  # folded, it costs nothing to keep up to date
                section.query_one(".thinking-text", ThinkingText).set_text("".join(self._thinking))
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        container = self.query_one(".pieces", PiecesColumn)
        tail = container.children[-1] if container.children else None
        live = self.status is None
        if live and isinstance(tail, MarkdownPiece) and tail.live and len(text) < HOLD_BELOW_CHARS:
            # The tail grows past PIECE_CHARS while it has room, and is cut when it outgrows
            # it: a cut changes the reply's layout, which repaints the whole pane, so it
            # waits for the jump that repaints the pane anyway (a backlog is cut at once).
            self._pieces.feed(text, hold=True)
            outgrew = tail.set_piece(self._pieces.tail, live=True)
            if not outgrew and len(self._pieces.tail.source) < HOLD_MAX_CHARS:
                return
            frozen = self._pieces.cut()
            if not frozen:
                return  # nowhere to cut yet: the tail, shown above, waits for more text
        else:
            frozen = self._pieces.feed(text)
        mounts: list[AwaitMount] = []
        if frozen:  # into the one widget that shows them all (ui/widgets/frozen_pieces.py)
            first = container.children[0] if container.children else None
            if isinstance(first, FrozenPieces):
                first.extend(frozen)
            else:
                run = FrozenPieces()
                run.extend(frozen)
                mounts.append(container.mount(run) if first is None else container.mount(run, before=first))
        if not isinstance(tail, MarkdownPiece):
            tail = MarkdownPiece(self._pieces.tail, live=live, ended=not live)
            tail.set_class(not self._pieces.frozen, "first")
            mounts.append(container.mount(tail))
        elif frozen:  # what was its head is frozen: it goes on with the rest, the pane where it was
            tail.restart(self._pieces.tail, live=live, carry=tail.spare_room() or None)
        else:
            tail.set_piece(self._pieces.tail, live=live)
        if not live:  # the end: shown with its outcome, in one frame (a burst's first)
            hold_updates_until(self, mounts)

    def header_line(self) -> tuple[Text, int | None]:
        header = header_of("assistant", self.model, self._usage, self._elapsed_ms)
        return header, add_marker(header, self._branch)

    def on_click(self, event: events.Click) -> None:
        header = self.query_one(".header", Static)
        if self.stored and (step := step_at(event, header, *self.header_line())):
            self.post_message(BranchStep(self.stored, step))

    def on_collapsible_expanded(self, event: Collapsible.Expanded) -> None:
        self.query_one(".thinking-text", ThinkingText).set_text("".join(self._thinking))

    def show_prompt(self, left_out: int, window: int | None) -> None:
        """What was left out of the history sent (it did not fit the context)."""
        self._note = prompt_note(left_out, window)
        if self.is_mounted:
            note = self.query_one(".prompt-note", Static)
            note.display = self._note is not None
            if self._note is not None:
                note.update(self._note)

    def show_usage(self, usage: tuple[int, int] | None, *, elapsed_ms: int | None = None,
                   thinking_ms: int | None = None) -> None:  # fmt: skip
        self._usage, self._elapsed_ms, self._thinking_ms = usage, elapsed_ms, thinking_ms
        if self.is_mounted:
            self.query_one(".header", Static).update(self.header_line()[0])
            if self._thinking and self._raw:
                self._fold_thinking()

    def show_end(self, reply: LiveReply) -> None:
        """How `reply` (ended) ended: its outcome, usage and timings."""
        assert reply.status is not None
        self.stored = reply.stored
        self._branch = reply.stored.branch if reply.stored else None
        self.finish(reply.status, reply.notice or None, reply.finish_reason)
        self.show_usage(reply.usage, elapsed_ms=reply.elapsed_ms, thinking_ms=reply.thinking_ms)

    def finish(self, status: MessageStatus, error: str | None = None, finish_reason: str | None = None) -> None:
        """Render what is pending now (no frame wait) and show the outcome."""
        self.status = status
        self._error = error
        self._finish_reason = finish_reason
        if self.is_mounted:
            self._show_outcome()

    def _show_outcome(self) -> None:
        assert self.status is not None
        self._flush()
        self.query_one(ThinkingText).end()
        tail = self.query(MarkdownPiece).last() if self.query(MarkdownPiece) else None
        if tail is not None and tail.live:
            tail.set_piece(tail.piece, live=False)
        notice = notice_of(self.status, self._error, self._finish_reason)
        if notice is None and self._finish_reason == FinishReason.TOOL_CALLS:
            notice = Text("⚙ asked to run tools (below)", style="dim")
        widget = self.query_one(".notice", Static)
        widget.display = notice is not None
        if notice is not None:
            widget.update(notice)


def view_of(entry: Entry) -> Widget:
    """A new view of a window entry (a live reply's with what has arrived so far)."""
    from codhechat.ui.widgets.tool_call import NoticeView, ToolCallView

    if isinstance(entry, Message):
        return ToolCallView(message=entry) if entry.role == "tool" else MessageView(entry)
    if isinstance(entry, LiveTool):
        return ToolCallView(entry)
    if isinstance(entry, LiveNotice):
        return NoticeView(entry)
    if isinstance(entry, SentPrompt):
        return PendingUserView(entry)
    view = ReplyView(entry.model, entry.text, entry=entry)
    if entry.status is not None:
        view.show_end(entry)
    return view
