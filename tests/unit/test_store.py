"""The SQLite store: schema, migrations, paging, and what the model sees."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from codhechat.errors import StorageError, UsageError
from codhechat.models import ConversationRecord, MessageRecord, MessageStatus
from codhechat.store import MIGRATIONS, SCHEMA_VERSION, SNIPPET_END, SNIPPET_START, Store


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
        {
            "id": 1,
            "title": "From v1",
            "created_at": "2025-01-01T10:00:00+00:00",
            "updated_at": "2025-01-01T10:00:00+00:00",
        }
    )
    old["messages"].insert(
        {
            "id": 1,
            "conversation_id": 1,
            "role": "user",
            "content": "kept?",
            "status": "complete",
            "created_at": "2025-01-01T10:00:00+00:00",
        }
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
    # Migration 3 indexed the existing messages for full-text search.
    assert [hit.message_id for hit in store.search("kept")] == [1]
    assert store.db["messages"].detect_fts() == "messages_fts"


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


def database_at_version(path: Path, version: int) -> sqlite_utils.Database:
    """A database as the release with schema `version` left it (its migrations, no more)."""
    db = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:version]:
        migration(db)
    db.execute(f"PRAGMA user_version = {version}")
    db.conn.commit()
    return db


def old_conversation(db: sqlite_utils.Database, title: str, **columns: object) -> int:
    now = "2025-01-01T10:00:00+00:00"
    return int(db["conversations"].insert({"title": title, "created_at": now, "updated_at": now, **columns}).last_pk)


def test_upgrades_a_version_2_database_with_messages_to_search(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    old = database_at_version(path, 2)
    conversation_id = old_conversation(old, "old")
    old["messages"].insert({"conversation_id": conversation_id, "role": "user", "content": "written before search existed",
                            "status": "complete", "created_at": "2025-01-01T10:00:00+00:00"})  # fmt: skip
    old.conn.commit()
    old.close()

    upgraded = Store.open(path)
    assert upgraded.schema_version == SCHEMA_VERSION
    [hit] = upgraded.search("existed")
    assert (hit.conversation_id, hit.title, hit.role) == (conversation_id, "old", "user")
    assert hit.snippet == f"written before search {SNIPPET_START}existed{SNIPPET_END}"


def test_upgrades_a_version_4_database_to_per_conversation_system_prompts(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    old = database_at_version(path, 4)
    conversation_id = old_conversation(old, "old", model="m1")
    old.conn.commit()
    old.close()

    upgraded = Store.open(path)
    assert upgraded.schema_version == SCHEMA_VERSION
    assert upgraded.get_conversation(conversation_id).system_prompt is None
    updated = upgraded.set_conversation_options(conversation_id, model="m2", system_prompt="Be terse.")
    assert (updated.model, updated.system_prompt) == ("m2", "Be terse.")
    assert upgraded.set_conversation_options(999, model=None, system_prompt=None) is None


def test_context_tokens_are_the_last_prompt_and_reply_not_a_sum(store: Store) -> None:
    conversation = store.create_conversation("c")
    assert store.context_tokens(conversation.id) is None
    store.add_message(conversation.id, "user", "q")
    reply = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL)
    store.update_message(reply.id, content="a", status=MessageStatus.COMPLETE)
    assert store.context_tokens(conversation.id) is None  # nothing reported
    store.update_message(reply.id, content="a", status=MessageStatus.COMPLETE, usage=(10, 5))
    other = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL)
    store.update_message(other.id, content="b", status=MessageStatus.COMPLETE, usage=(20, 7))
    # The second prompt (20) already held the first exchange: the context is 27, not 42.
    assert store.context_tokens(conversation.id) == 27
    store.add_message(conversation.id, "assistant", "unreported")
    assert store.context_tokens(conversation.id) == 27


def test_search_follows_inserts_updates_and_deletes(store: Store) -> None:
    conversation = store.create_conversation("c")
    reply = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL)
    store.save_progress(reply.id, "streaming tokens")
    assert [h.message_id for h in store.search("streaming")] == [reply.id]
    store.update_message(reply.id, content="final answer", status=MessageStatus.COMPLETE)
    assert store.search("streaming") == [] and len(store.search("answers")) == 1  # stemmed
    store.delete_message(reply.id)
    assert store.search("answer") == []


def test_search_orders_best_or_newest_and_quotes_syntax(store: Store) -> None:
    conversation = store.create_conversation("c")
    dense = store.add_message(conversation.id, "user", "cache cache cache invalidation")
    sparse = store.add_message(conversation.id, "user", "a long text that mentions cache once among many words")
    assert [h.message_id for h in store.search("cache")] == [dense.id, sparse.id]
    assert [h.message_id for h in store.search("cache", newest_first=True)] == [sparse.id, dense.id]
    assert [h.message_id for h in store.search("CACHE invalidation")] == [dense.id]  # every word
    assert store.search('cache" OR (') == []  # syntax characters are literal by default
    assert len(store.search("invalidation OR mentions", syntax=True)) == 2
    with pytest.raises(UsageError):
        store.search("cache OR (", syntax=True)
    assert store.search("   ") == []
    assert len(store.search("cache", limit=1)) == 1


def test_rename_and_delete_a_conversation(store: Store) -> None:
    keep = store.create_conversation("keep")
    store.add_message(keep.id, "user", "kept words")
    doomed = store.create_conversation("doomed")
    store.add_message(doomed.id, "user", "doomed words")
    store.add_message(doomed.id, "assistant", "more doomed words")
    before = store.get_conversation(keep.id)
    renamed = store.rename_conversation(keep.id, "Kept")
    assert renamed is not None and renamed.title == "Kept"
    assert renamed.updated_at == before.updated_at  # a rename is not activity
    assert store.rename_conversation(999, "x") is None
    assert store.delete_conversation(doomed.id) == 2
    assert store.delete_conversation(doomed.id) is None
    assert store.get_conversation(doomed.id) is None
    assert store.db.execute("select count(*) from messages").fetchone()[0] == 1
    assert [h.title for h in store.search("words")] == ["Kept"]


def test_import_keeps_timestamps_and_is_all_or_nothing(store: Store) -> None:
    record = ConversationRecord(
        title="imported", created_at="2024-05-01T08:00:00+00:00",
        updated_at="2024-05-01T09:00:00+00:00", model="gpt-4o",
        messages=[
            MessageRecord("user", "question", "2024-05-01T08:00:00+00:00"),
            MessageRecord("assistant", "answer", "2024-05-01T08:00:05+00:00",
                          status=MessageStatus.ERROR, model="gpt-4o", error="boom"),
        ],
    )  # fmt: skip
    imported, skipped = store.import_conversations([record])
    assert skipped == [] and imported[0].updated_at.isoformat() == "2024-05-01T09:00:00+00:00"
    _user, reply = store.all_messages(imported[0].id)
    assert (reply.content, reply.status, reply.error, reply.model) == ("answer", "error", "boom", "gpt-4o")
    assert reply.created_at.isoformat() == "2024-05-01T08:00:05+00:00"
    assert len(store.search("question")) == 1

    bad = ConversationRecord(
        title="bad",
        created_at="2024-06-01T08:00:00+00:00",
        updated_at="2024-06-01T08:00:00+00:00",
        messages=[MessageRecord("user", object(), "2024-06-01T08:00:00+00:00")],  # type: ignore[arg-type]
    )
    fresh = ConversationRecord(title="fresh", created_at="2024-07-01T08:00:00+00:00",
                               updated_at="2024-07-01T08:00:00+00:00")  # fmt: skip
    with pytest.raises(StorageError):
        store.import_conversations([fresh, bad])
    assert [c.title for c in store.list_conversations()] == ["imported"]  # fresh rolled back
    imported, skipped = store.import_conversations([record, fresh])
    assert [c.title for c in imported] == ["fresh"] and skipped == [record]


def test_pinned_conversations_come_first_and_a_version_3_database_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    old = database_at_version(path, 3)
    old_id = old_conversation(old, "old")
    old["conversations"].insert({"title": "newer", "created_at": "2025-01-02T10:00:00+00:00",
                                 "updated_at": "2025-01-02T10:00:00+00:00"})  # fmt: skip
    old.conn.commit()
    old.close()

    store = Store.open(path)
    assert store.schema_version == SCHEMA_VERSION
    assert [c.title for c in store.list_conversations()] == ["newer", "old"]
    before = store.get_conversation(old_id)
    pinned = store.set_pinned(old_id, True)
    assert pinned is not None and pinned.pinned_at is not None and before is not None
    assert pinned.updated_at == before.updated_at  # pinning is not activity
    assert [c.title for c in store.list_conversations()] == ["old", "newer"]
    assert [c.title for c in store.list_conversations(limit=1)] == ["old"]  # first page too
    assert store.set_pinned(old_id, False).pinned_at is None  # type: ignore[union-attr]
    assert [c.title for c in store.list_conversations()] == ["newer", "old"]
    assert store.set_pinned(9999, True) is None


def test_a_reply_keeps_its_token_usage(store: Store) -> None:
    conversation = store.create_conversation("c")
    reply = store.add_message(conversation.id, "assistant", "", status=MessageStatus.PARTIAL)
    store.update_message(reply.id, content="hi", status=MessageStatus.COMPLETE, usage=(12, 3))
    [stored] = store.get_messages(conversation.id)
    assert (stored.prompt_tokens, stored.completion_tokens) == (12, 3)


def test_a_database_from_a_newer_codhechat_is_read_but_never_written(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    store = Store.open(path)
    conversation = store.create_conversation("from the future")
    store.db["meta"].upsert({"key": "written_by", "value": "9.9.0"}, pk="key")
    store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    store.close()
    before = path.read_bytes()

    with pytest.raises(StorageError) as error:
        Store.open(path)
    message = error.value.message
    assert "written by codhechat 9.9.0" in message and f"schema version {SCHEMA_VERSION + 3}" in message
    assert "Upgrade codhechat" in error.value.hint
    assert path.read_bytes() == before  # not migrated, not touched

    reader = Store.open(path, readonly=True)
    assert [c.title for c in reader.list_conversations()] == ["from the future"]
    assert reader.get_conversation(conversation.id) is not None
    reader.close()


def test_the_version_that_last_migrated_a_database_is_recorded(store: Store) -> None:
    from codhechat import __version__

    assert store.db.execute("select value from meta where key = 'written_by'").fetchone() == (__version__,)
