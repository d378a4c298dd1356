"""Full-text search over messages: FTS5 on SQLite, a GIN index on PostgreSQL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Stemmed, case- and accent-insensitive, as local mode's search.
SQLITE_TOKENIZER = "porter unicode61 remove_diacritics 2"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_messages_search ON messages USING GIN (to_tsvector('english', content))")
        return
    op.execute(
        "CREATE VIRTUAL TABLE messages_fts USING FTS5 "
        f"(content, tokenize='{SQLITE_TOKENIZER}', content='messages', content_rowid='id')"
    )
    op.execute("INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages")
    op.execute(
        "CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END"
    )
    op.execute(
        "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content); END"
    )
    op.execute(
        "CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content); "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_messages_search")
        return
    for trigger in ("messages_ai", "messages_ad", "messages_au"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE messages_fts")
