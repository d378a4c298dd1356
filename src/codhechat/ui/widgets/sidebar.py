"""The sidebar: conversations as a tree grouped by recency, newest first,
under a "Pinned" group of the pinned ones (latest pin first).

It shows what the chat session has loaded (codhechat.ui.session), which is only the
most recent conversations (a "more" node asks for the next page), so start-up costs
the same with ten conversations or ten thousand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from codhechat.models import Conversation
from codhechat.ui.layout import SIDEBAR_OPEN, close_overlay, narrow
from codhechat.ui.text import plain

GROUPS = ("Today", "Yesterday", "Previous 7 days", "Older")
PINNED = "Pinned"
NEW = "new"
MORE = "more"


def group_for(when: datetime, now: datetime) -> str:
    """The recency group of a time, by the local calendar."""
    days = (now.astimezone().date() - when.astimezone().date()).days
    if days <= 0:
        return GROUPS[0]
    if days == 1:
        return GROUPS[1]
    if days <= 7:
        return GROUPS[2]
    return GROUPS[3]


class ConversationTree(Tree[int | str]):
    # Only while it is open over a narrow chat (check_action); otherwise Esc stops a reply.
    BINDINGS = [Binding("escape", "close_overlay", "Close", show=False)]

    class Chosen(Message):
        """The user picked a conversation (an id) or "new"."""

        def __init__(self, choice: int | str) -> None:
            super().__init__()
            self.choice = choice

    def __init__(self, **kwargs: Any) -> None:  # the Widget options (id, classes, ...), passed on
        super().__init__("Conversations", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.conversations: list[Conversation] = []  # as shown
        self.has_more = False
        self.current: int | None = None  # the open conversation, marked
        self._shown: tuple[list[tuple[str, str, int]], bool] | None = None  # what the tree lists

    def process_label(self, label: str | Text) -> Text:
        """Labels are text, never markup: a title is whatever its first message said."""
        return super().process_label(plain(label) if isinstance(label, str) else label)

    def render_label(self, node: TreeNode[int | str], base_style: Style, style: Style) -> Text:
        """A label cut to the sidebar's width with an ellipsis: a long title must not hide
        behind the edge, nor widen the tree into a horizontal scrollbar."""
        label = super().render_label(node, base_style, style)
        depth, parent = 0, node.parent
        while parent is not None and parent is not self.root:
            depth, parent = depth + 1, parent.parent
        room = self.scrollable_content_region.width - depth * self.guide_depth
        if room > 0:
            label.truncate(room, overflow="ellipsis")
        return label

    def show(self, conversations: list[Conversation], *, has_more: bool, current: int | None) -> None:
        """List `conversations` (newest first), with the open one (`current`) marked. The
        tree is rebuilt only if what it lists changed: a reply's end updates its
        conversation, and repainting an unchanged tree cost its final frame ~15 ms."""
        self.conversations = conversations
        self.current = current
        rows = self._rows()
        if (rows, has_more) == self._shown:
            return
        self.has_more = has_more
        self._shown = (rows, has_more)
        self._rebuild(rows)

    def _rows(self) -> list[tuple[str, str, int]]:
        """(group, label, id) for each conversation, in the order listed: pinned first."""
        now = datetime.now().astimezone()
        pinned = sorted(
            (c for c in self.conversations if c.pinned_at is not None),
            key=lambda c: c.pinned_at,  # type: ignore[arg-type, return-value]
            reverse=True,
        )
        others = [c for c in self.conversations if c.pinned_at is None]
        return [
            (
                PINNED if c.pinned_at is not None else group_for(c.updated_at, now),
                f"{'● ' if c.id == self.current else ''}{c.title}",
                c.id,
            )
            for c in [*pinned, *others]
        ]

    def _rebuild(self, rows: list[tuple[str, str, int]]) -> None:
        self.clear()
        self.root.add_leaf("+ New conversation", data=NEW)
        groups: dict[str, TreeNode[int | str]] = {}
        cursor_node: TreeNode[int | str] | None = None
        for name, label, conversation_id in rows:
            if name not in groups:
                groups[name] = self.root.add(name, expand=True, allow_expand=True)
            node = groups[name].add_leaf(label, data=conversation_id)
            if conversation_id == self.current:
                cursor_node = node
        if self.has_more:
            self.root.add_leaf("… more", data=MORE)
        if cursor_node is not None:
            self.call_after_refresh(self.move_cursor, cursor_node)

    def on_focus(self) -> None:
        """Arriving by Tab, land on a conversation rather than on nothing."""
        if self.cursor_node is None or self.cursor_line < 0:
            for line in range(self.last_line + 1):
                node = self.get_node_at_line(line)
                if node is not None and isinstance(node.data, int):
                    self.cursor_line = line
                    break

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_overlay":
            return self.screen.has_class(SIDEBAR_OPEN) and narrow(self.screen)
        return super().check_action(action, parameters)

    async def action_close_overlay(self) -> None:
        close_overlay(self.screen)
        await self.run_action("screen.focus_prompt")

    def on_blur(self) -> None:
        """Opened over a narrow chat (ui/layout.py), it closes once the focus moves on; a
        dialog opened from it (rename, delete) keeps it open."""
        if self.screen.focused is not self:
            close_overlay(self.screen)

    def on_tree_node_selected(self, event: Tree.NodeSelected[int | str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.Chosen(event.node.data))
