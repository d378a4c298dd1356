"""Conversations as trees in the SQLite store: edits and new replies beside what they
replace, the current path (what is shown and sent), switching and deleting branches, and
the migration that turns every older conversation into one path."""

from __future__ import annotations

from pathlib import Path

import pytest

from codhechat.errors import StorageError
from codhechat.models import MessageStatus
from codhechat.store import SCHEMA_VERSION, Store
from tests.unit.test_store import database_at_version, old_conversation


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "chat.db")


def contents(store: Store, conversation_id: int) -> list[str]:
    return [m.content for m in store.get_messages(conversation_id, limit=1000)]


def test_an_edit_is_a_sibling_and_the_old_branch_stays(store: Store) -> None:
    conversation = store.create_conversation("c")
    other = store.create_conversation("other")
    first = store.add_message(conversation.id, "user", "first")
    store.add_message(conversation.id, "assistant", "reply one")
    second = store.add_message(conversation.id, "user", "second")
    store.add_message(conversation.id, "assistant", "reply two")
    kept = store.add_message(other.id, "user", "elsewhere")

    edited = store.edit_message(conversation.id, second.id, "second, edited")
    assert (edited.parent_id, edited.siblings, edited.branch) == (second.parent_id, (second.id, edited.id), (2, 2))
    assert contents(store, conversation.id) == ["first", "reply one", "second, edited"]
    reply = store.add_message(conversation.id, "assistant", "reply to the edit")
    assert reply.parent_id == edited.id
    assert len(store.all_messages(conversation.id)) == 6  # nothing deleted
    assert [m.id for m in store.get_messages(other.id)] == [kept.id]
    # Both versions are found, and the path shown says where it branches.
    assert {h.message_id for h in store.search("second")} == {second.id, edited.id}
    shown = store.get_messages(conversation.id)
    assert [m.branch for m in shown] == [None, None, (2, 2), None]

    # Back to the first version: its continuation comes back with it.
    assert store.switch_branch(conversation.id, second.id) == second.id + 1
    assert contents(store, conversation.id) == ["first", "reply one", "second", "reply two"]
    assert store.history(conversation.id, 10)[-1].content == "reply two"  # what the model sees
    # Editing a first message makes a second root.
    root = store.edit_message(conversation.id, first.id, "first, again")
    assert root.parent_id is None and root.branch == (2, 2)
    assert contents(store, conversation.id) == ["first, again"]
    with pytest.raises(StorageError):
        store.edit_message(conversation.id, kept.id, "not mine to edit here")
    with pytest.raises(StorageError):
        store.switch_branch(conversation.id, kept.id)


def test_deleting_a_branch_deletes_what_follows_and_moves_to_the_newest_left(store: Store) -> None:
    conversation = store.create_conversation("c")
    question = store.add_message(conversation.id, "user", "question")
    store.add_message(conversation.id, "assistant", "answer one")
    store.add_message(conversation.id, "user", "follow-up")
    store.switch_branch(conversation.id, question.id)  # on the path: nothing changes
    assert contents(store, conversation.id) == ["question", "answer one", "follow-up"]
    second = store.add_message(conversation.id, "assistant", "answer two", parent=question.id)
    assert contents(store, conversation.id) == ["question", "answer two"]
    first_answer = store.get_messages(conversation.id)[-1].siblings[0]
    assert store.delete_branch(conversation.id, first_answer) == 2  # the answer and its follow-up
    assert contents(store, conversation.id) == ["question", "answer two"]
    assert store.search("follow") == []
    assert store.delete_branch(conversation.id, second.id) == 1
    assert contents(store, conversation.id) == ["question"]  # the parent is the leaf now
    assert store.get_conversation(conversation.id).current_leaf == question.id


def test_a_discarded_reply_gives_the_path_back_to_the_one_it_would_have_replaced(store: Store) -> None:
    conversation = store.create_conversation("c")
    question = store.add_message(conversation.id, "user", "q")
    old = store.add_message(conversation.id, "assistant", "old answer")
    new = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL, parent=question.id)
    assert contents(store, conversation.id) == ["q", ""]
    store.delete_message(new.id)
    assert contents(store, conversation.id) == ["q", "old answer"]
    assert store.get_conversation(conversation.id).current_leaf == old.id


def test_the_migration_turns_every_conversation_into_one_path(tmp_path: Path) -> None:
    path = tmp_path / "v9.db"
    old = database_at_version(path, 9)
    ids = [old_conversation(old, f"old {n}") for n in range(2)]
    for i in range(6):  # interleaved, as two conversations written at once would be
        old["messages"].insert(
            {
                "conversation_id": ids[i % 2],
                "role": ("user", "assistant")[i // 2 % 2],
                "content": f"m{i}",
                "status": "complete",
                "created_at": "2025-01-01T10:00:00+00:00",
            }
        )
    empty = old_conversation(old, "empty")
    old.conn.commit()
    old.close()

    upgraded = Store.open(path)
    assert upgraded.schema_version == SCHEMA_VERSION
    assert contents(upgraded, ids[0]) == ["m0", "m2", "m4"] and contents(upgraded, ids[1]) == ["m1", "m3", "m5"]
    assert [m.parent_id for m in upgraded.all_messages(ids[0])] == [None, 1, 3]
    assert upgraded.get_conversation(empty).current_leaf is None
    assert upgraded.add_message(ids[0], "user", "after").parent_id == 5  # continues the path
    assert upgraded.add_message(empty, "user", "first").parent_id is None


def test_the_context_figure_is_the_current_paths_not_another_branchs(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.db")
    conversation = store.create_conversation("c")
    question = store.add_message(conversation.id, "user", "q")
    first = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL)
    store.update_message(first.id, content="a", status=MessageStatus.COMPLETE, usage=(10, 5))
    second = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL, parent=question.id)
    store.update_message(second.id, content="b", status=MessageStatus.COMPLETE, usage=(10, 90))
    assert store.context_tokens(conversation.id) == 100  # the newest version is shown
    store.switch_branch(conversation.id, first.id)
    assert store.context_tokens(conversation.id) == 15
