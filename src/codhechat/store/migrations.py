"""The local database's schema, one migration per release that changed it.

Each runs in its own transaction (Store.migrate); `PRAGMA user_version` says how many
have run, so a file from any earlier release is brought up to date in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils  # imported by Store when it first needs it (not before the first frame)


def _migrate_1(db: sqlite_utils.Database) -> None:
    """The first release's schema."""
    db.table("conversations").create({"id": int, "title": str, "created_at": str, "updated_at": str}, pk="id")
    db.table("messages").create(
        {
            "id": int,
            "conversation_id": int,
            "role": str,
            "content": str,
            "status": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id")],
    )


def _migrate_2(db: sqlite_utils.Database) -> None:
    """Record the model per conversation and message, a failed reply's error,
    and index what the sidebar and the message pane sort by."""
    db.table("conversations").add_column("model", str)
    db.table("messages").add_column("model", str)
    db.table("messages").add_column("error", str)
    db.table("conversations").create_index(["updated_at"], index_name="idx_conversations_updated")
    db.table("messages").create_index(["conversation_id", "id"], index_name="idx_messages_conv_id")


def _migrate_3(db: sqlite_utils.Database) -> None:
    """Full-text search over every message: an FTS5 index on `messages.content`
    kept current by triggers. Laid out as sqlite-utils' `enable_fts` would
    (`messages_fts`, external content, `messages_ai/_ad/_au`) so its tools work
    on the file, but written statement by statement: `enable_fts` runs
    `executescript`, which would commit this migration's transaction half-way."""
    db.execute(
        "CREATE VIRTUAL TABLE messages_fts USING FTS5 "
        f"([content], tokenize='{FTS_TOKENIZER}', prefix='2 3', content=[messages])"
    )
    db.execute("INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages")
    db.execute(
        "CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END"
    )
    db.execute(
        "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) "
        "VALUES ('delete', old.id, old.content); END"
    )
    db.execute(
        "CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) "
        "VALUES ('delete', old.id, old.content); "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END"
    )


def _migrate_4(db: sqlite_utils.Database) -> None:
    """Pinned conversations (the app lists them first), and the token counts an
    endpoint reports for a reply."""
    db.table("conversations").add_column("pinned_at", str)
    db.table("messages").add_column("prompt_tokens", int)
    db.table("messages").add_column("completion_tokens", int)


def _migrate_5(db: sqlite_utils.Database) -> None:
    """A system prompt per conversation (NULL: the configured one)."""
    db.table("conversations").add_column("system_prompt", str)


def _migrate_6(db: sqlite_utils.Database) -> None:
    """Facts about the file itself: `written_by` is the codhechat that last migrated it,
    so that an older codhechat can name the release a database needs."""
    db.table("meta").create({"key": str, "value": str}, pk="key")


def _migrate_7(db: sqlite_utils.Database) -> None:
    """Why each reply ended: the endpoint's finish_reason (stop, length, content_filter,
    tool_calls), or ours: `cut` (the stream ended without one), `stopped` (by the user)."""
    db.table("messages").add_column("finish_reason", str)


def _migrate_8(db: sqlite_utils.Database) -> None:
    """A reasoning model's thinking, kept apart from its answer (never sent back as
    history), how long it thought and how long the whole reply took; a conversation's
    generation parameters (JSON: temperature, top_p, max_tokens, seed, reasoning_effort)."""
    db.table("messages").add_column("reasoning", str)
    db.table("messages").add_column("thinking_ms", int)
    db.table("messages").add_column("elapsed_ms", int)
    db.table("conversations").add_column("generation", str)


def _migrate_9(db: sqlite_utils.Database) -> None:
    """Attachments: each file's bytes once, by SHA-256 (`blobs`), and which message
    carries which file under what name (`attachments`, in the order attached)."""
    db.table("blobs").create({"sha256": str, "data": bytes}, pk="sha256")
    db.table("attachments").create(
        {"id": int, "message_id": int, "position": int, "name": str, "mime": str, "kind": str,
         "size": int, "sha256": str},
        pk="id", foreign_keys=[("message_id", "messages", "id"), ("sha256", "blobs", "sha256")],
    )  # fmt: skip
    db.table("attachments").create_index(["message_id", "position"], index_name="idx_attachments_message")


def _migrate_10(db: sqlite_utils.Database) -> None:
    """Tools: the calls an assistant message asked for (JSON: [{id, name, arguments}]),
    and a `tool` message's call id and tool name (its content is the result sent back);
    the tools a conversation does not offer (JSON: names of tools or MCP servers)."""
    db.table("conversations").add_column("tools_off", str)
    db.table("messages").add_column("tool_calls", str)
    db.table("messages").add_column("tool_call_id", str)
    db.table("messages").add_column("tool_name", str)


def _migrate_11(db: sqlite_utils.Database) -> None:
    """Conversations as trees (an edit or a regenerated reply is kept beside what it
    replaces): each message's parent, the message it follows (NULL: a first message),
    and each conversation's current leaf, the end of the path shown and sent as history;
    each message's current child, the version after it that path last took. Every
    existing conversation becomes one path, in the order it was written."""
    db.table("messages").add_column("parent_id", int)
    db.table("messages").add_column("current_child", int)
    db.table("conversations").add_column("current_leaf", int)
    db.table("messages").create_index(["parent_id"], index_name="idx_messages_parent")
    db.execute(
        "update messages set parent_id = (select max(p.id) from messages p "
        "where p.conversation_id = messages.conversation_id and p.id < messages.id)"
    )
    db.execute(
        "update conversations set current_leaf = "
        "(select max(m.id) from messages m where m.conversation_id = conversations.id)"
    )


# Stemmed (`reviews` finds `review`), case- and accent-insensitive.
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migrate_1,
    _migrate_2,
    _migrate_3,
    _migrate_4,
    _migrate_5,
    _migrate_6,
    _migrate_7,
    _migrate_8,
    _migrate_9,
    _migrate_10,
    _migrate_11,
]
SCHEMA_VERSION = len(MIGRATIONS)
