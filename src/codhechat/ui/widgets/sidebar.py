"""The sidebar: conversations as a tree grouped by recency, newest first,
under a "Pinned" group of the pinned ones (latest pin first).

Only the most recent conversations are loaded (a "more" node fetches the next
page), so start-up costs the same with ten conversations or ten thousand.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from codhechat.models import Conversation
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
    class Chosen(Message):
        """The user picked a conversation (an id) or "new"."""

        def __init__(self, choice: int | str) -> None:
            super().__init__()
            self.choice = choice

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Conversations", **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.guide_depth = 2
        self.conversations: list[Conversation] = []
        self.has_more = False
        self.current: int | None = None

    def process_label(self, label: str | Text) -> Text:
        """Labels are text, never markup: a title is whatever its first message said."""
        return super().process_label(plain(label) if isinstance(label, str) else label)

    def set_conversations(self, conversations: list[Conversation], *, has_more: bool) -> None:
        self.conversations = sorted(conversations, key=lambda c: c.updated_at, reverse=True)
        self.has_more = has_more
        self._rebuild()

    def add_page(self, conversations: list[Conversation], *, has_more: bool) -> None:
        known = {c.id for c in self.conversations}
        self.set_conversations(
            self.conversations + [c for c in conversations if c.id not in known], has_more=has_more
        )

    def upsert(self, conversation: Conversation) -> None:
        """A conversation was created or got a reply: it moves to the top."""
        rest = [c for c in self.conversations if c.id != conversation.id]
        self.set_conversations([conversation, *rest], has_more=self.has_more)

    def remove(self, conversation_id: int) -> Conversation | None:
        """Take a conversation off the list (deleted); returns it, to put back on undo."""
        gone = next((c for c in self.conversations if c.id == conversation_id), None)
        if gone is not None:
            rest = [c for c in self.conversations if c.id != conversation_id]
            self.set_conversations(rest, has_more=self.has_more)
        return gone

    def get(self, conversation_id: int | None) -> Conversation | None:
        return next((c for c in self.conversations if c.id == conversation_id), None)

    def mark_current(self, conversation_id: int | None) -> None:
        self.current = conversation_id
        self._rebuild()

    def _rebuild(self) -> None:
        now = datetime.now().astimezone()
        self.clear()
        self.root.add_leaf("+ New conversation", data=NEW)
        groups: dict[str, TreeNode[int | str]] = {}
        cursor_node: TreeNode[int | str] | None = None
        pinned = sorted(
            (c for c in self.conversations if c.pinned_at is not None),
            key=lambda c: c.pinned_at,  # type: ignore[arg-type, return-value]
            reverse=True,
        )
        others = [c for c in self.conversations if c.pinned_at is None]
        for conversation in [*pinned, *others]:
            name = PINNED if conversation.pinned_at is not None else group_for(conversation.updated_at, now)
            if name not in groups:
                groups[name] = self.root.add(name, expand=True, allow_expand=True)
            marker = "● " if conversation.id == self.current else ""
            node = groups[name].add_leaf(f"{marker}{conversation.title}", data=conversation.id)
            if conversation.id == self.current:
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

    def on_tree_node_selected(self, event: Tree.NodeSelected[int | str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.Chosen(event.node.data))
