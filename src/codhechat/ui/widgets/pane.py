"""The message pane: the views of the session's window, anchored to the newest.

It holds one view per entry of the window (codhechat.ui.session.Window), in order,
and asks for more (NeedOlder, NeedNewer) as the user scrolls to either end; the
screen loads the page through the session and tells the pane what to add and how
many views to drop at the far end, so what is mounted stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.message import Message as TextualMessage
from textual.widget import Widget

from codhechat.models import Message
from codhechat.ui.transcript import Entry, LiveReply
from codhechat.ui.widgets.laid_out import content_only
from codhechat.ui.widgets.long_message import view_of
from codhechat.ui.widgets.messages import MessageView, PendingUserView, ReplyView
from codhechat.ui.widgets.thumbnail import PendingWithImages


class MessagePane(VerticalScroll):
    class NeedOlder(TextualMessage):
        pass

    class NeedNewer(TextualMessage):
        pass

    def __init__(self, **kwargs: Any) -> None:  # the Widget options (id, classes, ...), passed on
        super().__init__(**kwargs)
        self.has_older = False
        self.has_newer = False
        self._asked = False
        self._replies: dict[LiveReply, ReplyView] = {}  # the views of live replies, for the stream's hot path

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        """No second layout when only its content's height changed (ui/widgets/laid_out.py)."""
        layout = layout and not content_only(self, size, virtual_size, container_size)
        return super()._size_updated(size, virtual_size, container_size, layout=layout)

    @property
    def follows_bottom(self) -> bool:
        """Whether it keeps its bottom in view as its content grows (anchored, and the user
        has not scrolled away: Textual's anchor, released by a scroll, is kept in view
        again when the user scrolls back). FrozenPieces asks, to know what can be seen."""
        return self.is_anchored and not self._anchor_released

    def views(self) -> list[Widget]:
        """The message views, oldest first (not the welcome text)."""
        return [w for w in self.children if w.has_class("message")]

    def reply_view(self, reply: LiveReply) -> ReplyView | None:
        return self._replies.get(reply)

    def _track(self, widgets: Sequence[Widget]) -> None:
        self._replies.update((w.entry, w) for w in widgets if isinstance(w, ReplyView) and w.entry is not None)

    async def _drop(self, widgets: Sequence[Widget]) -> None:
        for widget in widgets:
            if isinstance(widget, ReplyView) and widget.entry is not None:
                self._replies.pop(widget.entry, None)
        await self.remove_children(widgets)

    async def show(self, widgets: Sequence[Widget], *, has_older: bool, has_newer: bool = False) -> None:
        """Replace the pane's contents and follow the bottom."""
        self._replies.clear()
        self._track(widgets)
        with self.app.batch_update():
            await self.remove_children()
            await self.mount_all(widgets)
        self.has_older, self.has_newer, self._asked = has_older, has_newer, False
        self.anchor()

    async def add(self, *widgets: Widget) -> None:
        self._track(widgets)
        await self.mount_all(widgets)
        if not self.is_anchored and self.scroll_y >= self.max_scroll_y - 1:
            self.anchor()

    async def add_entries(self, entries: Sequence[Entry]) -> None:
        """Views of new entries at the bottom (instead of the welcome text), followed."""
        if self.query("#welcome"):
            await self.show([], has_older=False)
        await self.add(*map(view_of, entries))
        self.anchor()

    async def remove_entry(self, entry: Entry) -> None:
        await self._drop([w for w in self.views() if getattr(w, "entry", None) is entry])

    def entry_stored(self, entry: Entry) -> None:
        """Render a prompt's view again, now that its stored copy says where it branches."""
        for view in self.views():
            if getattr(view, "entry", None) is entry and isinstance(view, PendingUserView | PendingWithImages):
                view.show_stored()

    def show_found(self, message_id: int, *, mark: str = "found") -> None:
        """Scroll a message (a search result; a version switched to) to the top, if it is
        shown, and give it the class `mark` (which no other view keeps)."""
        for view in self.query(f".{mark}"):
            view.remove_class(mark)
        found = next((w for w in self.views() if isinstance(w, MessageView) and w.message.id == message_id), None)
        if found is not None:
            found.add_class(mark)

            def reveal() -> None:
                # All on screen (held at the bottom while anchored): nothing to scroll. Unanchored
                # then, Textual would keep the bottom-aligned offset of the old contents.
                if self.max_scroll_y > 0:
                    self.anchor(False)
                    self.scroll_to_widget(found, top=True, animate=False, immediate=True)

            self.call_after_refresh(reveal)

    async def prepend(self, messages: Sequence[Message], drop: int, *, has_older: bool) -> None:
        """Add older messages above and drop `drop` views at the bottom, keeping what the
        user is reading in place."""
        first = self.views()[0] if self.views() else None
        before = first.virtual_region.y - self.scroll_y if first else 0
        await self.mount_all([view_of(m) for m in messages], before=0)
        self.has_older = has_older
        if drop:
            await self._drop(self.views()[-drop:])
            self.has_newer = True
            self.anchor(False)

        def keep_place() -> None:
            if first is not None:
                self.scroll_to(y=first.virtual_region.y - before, animate=False, immediate=True)
            self._asked = False

        self.call_after_refresh(keep_place)

    async def append_newer(self, messages: Sequence[Message], drop: int, *, has_newer: bool) -> None:
        """Add newer messages below and drop `drop` views at the top, keeping the reader's place."""
        last = self.views()[-1] if self.views() else None
        before = last.virtual_region.y - self.scroll_y if last else 0
        await self.mount_all([view_of(m) for m in messages])
        self.has_newer = has_newer
        if drop:
            await self._drop(self.views()[:drop])
            self.has_older = True

        def keep_place() -> None:
            if last is not None:
                self.scroll_to(y=last.virtual_region.y - before, animate=False, immediate=True)
            self._asked = False

        self.call_after_refresh(keep_place)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._asked or not self.is_mounted:
            return
        if new <= 0 and old > 0 and self.has_older:
            self._asked = True
            self.post_message(self.NeedOlder())
        elif new >= self.max_scroll_y and old < new and self.has_newer:
            self._asked = True
            self.post_message(self.NeedNewer())
