"""The SQLite store: schema, migrations, paging, and what the model sees."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from codhechat.errors import StorageError
from codhechat.models import MessageStatus
from codhechat.store import MIGRATIONS, SCHEMA_VERSION, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "data" / "chat.db")


def test_new_database_is_current_wal_and_busy_tolerant(store: Store) -> None:
    assert store.schema_version == SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_upgrades_a_database_made_by_the_first_schema(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    MIGRATIONS[0](old)
    old.execute("PRAGMA user_version = 1")
    old["conversations"].insert(
        {"id": 1, "title": "From v1", "created_at": "2025-01-01T10:00:00+00:00",
         "updated_at": "2025-01-01T10:00:00+00:00"}
    )
    old["messages"].insert(
        {"id": 1, "conversation_id": 1, "role": "user", "content": "kept?",
         "status": "complete", "created_at": "2025-01-01T10:00:00+00:00"}
    )
    old.conn.commit()
    old.close()

    store = Store.open(path)

    assert store.schema_version == SCHEMA_VERSION
    [conversation] = store.list_conversations()
    assert conversation.title == "From v1" and conversation.model is None
    [message] = store.get_messages(1)
    assert message.content == "kept?" and message.error is None
    indexes = {i.name for i in store.db["conversations"].indexes}
    assert "idx_conversations_updated" in indexes


def test_conversations_listed_newest_activity_first(store: Store) -> None:
    first = store.create_conversation("first")
    second = store.create_conversation("second")
    store.add_message(first.id, "user", "bump")
    assert [c.title for c in store.list_conversations()] == ["first", "second"]
    assert [c.title for c in store.list_conversations(limit=1, offset=1)] == ["second"]
    assert store.count_conversations() == 2
    assert store.get_conversation(second.id) == second


def test_message_pages_before_and_after(store: Store) -> None:
    conversation = store.create_conversation("long")
    ids = [store.add_message(conversation.id, "user", f"m{i}").id for i in range(10)]
    assert [m.content for m in store.get_messages(conversation.id, limit=3)] == ["m7", "m8", "m9"]
    older = store.get_messages(conversation.id, before=ids[7], limit=3)
    assert [m.content for m in older] == ["m4", "m5", "m6"]
    newer = store.get_messages(conversation.id, after=ids[2], limit=2)
    assert [m.content for m in newer] == ["m3", "m4"]


def test_status_and_error_are_kept(store: Store) -> None:
    conversation = store.create_conversation("c")
    reply = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL)
    assert reply.status == MessageStatus.PARTIAL
    failed = store.update_message(reply.id, content="half", status=MessageStatus.ERROR, error="boom")
    assert (failed.content, failed.status, failed.error) == ("half", MessageStatus.ERROR, "boom")


def test_history_is_the_last_window_with_text(store: Store) -> None:
    conversation = store.create_conversation("c")
    for i in range(6):
        store.add_message(conversation.id, "user", f"q{i}")
    store.add_message(conversation.id, "assistant", "", status=MessageStatus.ERROR)
    assert [m.content for m in store.history(conversation.id, 3)] == ["q3", "q4", "q5"]


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError) as error:
        Store.open(path)
    assert "not a codhechat database" in error.value.message
    assert "Move it aside" in error.value.hint


def test_an_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError) as error:
        Store.open(blocker / "sub" / "chat.db")
    assert "Cannot create the database" in error.value.message


def test_a_full_disk_is_reported_not_raised_raw(store: Store) -> None:
    conversation = store.create_conversation("c")
    store.db.execute("PRAGMA max_page_count = 1")  # make the next growth fail as on a full disk
    with pytest.raises(StorageError) as error:
        store.add_message(conversation.id, "user", "x" * 100_000)
    assert "disk is full" in error.value.message
    assert isinstance(error.value.__cause__, sqlite3.Error)
