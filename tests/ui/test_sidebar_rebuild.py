"""The sidebar's tree is rebuilt only when what it lists changes: every reply's end updates
its conversation, and repainting an unchanged tree cost the reply's final frame ~15 ms."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from textual.app import App, ComposeResult

from codhechat.models import Conversation
from codhechat.ui.widgets.sidebar import ConversationTree


class TreeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ConversationTree()


def conversation(id_: int, title: str, updated: datetime) -> Conversation:
    return Conversation(id=id_, title=title, created_at=updated, updated_at=updated)


def leaves(tree: ConversationTree) -> list[object]:
    return [leaf for group in tree.root.children for leaf in (group.children or [group])]


async def test_the_tree_is_rebuilt_only_when_what_it_lists_changes() -> None:
    now = datetime.now().astimezone()
    first, second = conversation(1, "First", now), conversation(2, "Second", now - timedelta(minutes=1))
    async with TreeApp().run_test() as pilot:
        tree = pilot.app.query_one(ConversationTree)
        tree.show([first, second], has_more=False, current=1)
        shown = leaves(tree)
        # A reply ended: its conversation's time moved, within the same group; nothing shown changed.
        tree.show([replace(first, updated_at=now + timedelta(seconds=5)), second], has_more=False, current=1)
        assert leaves(tree) == shown and all(a is b for a, b in zip(leaves(tree), shown, strict=True))
        assert tree.conversations[0].updated_at == now + timedelta(seconds=5)  # kept, for its actions

        for changed in (
            ([replace(first, title="Renamed"), second], False, 1),
            ([second, first], False, 1),  # reordered
            ([first, second], False, 2),  # another one opened
            ([first, second], True, 1),  # more to load
        ):
            conversations, has_more, current = changed
            before = leaves(tree)
            tree.show(conversations, has_more=has_more, current=current)
            assert not any(a is b for a, b in zip(leaves(tree), before, strict=False)), changed
        assert [str(node.label) for node in leaves(tree)][-1] == "… more"
