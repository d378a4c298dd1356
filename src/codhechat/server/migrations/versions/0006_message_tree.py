"""Conversations as trees: a parent per message, the chosen path per conversation.

Every existing conversation becomes a single path, its messages in the order written
(each one's parent is the message before it), its current leaf its newest message, so
nothing is lost and the classic history reads exactly as before.

Revision ID: 0006_message_tree
Revises: 0005_conversation_extensions
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_message_tree"
down_revision = "0005_conversation_extensions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no foreign keys): SQLite adds them in place, so the full-text
    # triggers on `messages` stay as they are (a rebuilt table would lose them).
    op.add_column("messages", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("current_child", sa.Integer(), nullable=True))
    op.add_column("conversations", sa.Column("current_leaf", sa.Integer(), nullable=True))
    op.create_index("ix_messages_parent_id", "messages", ["parent_id"])
    op.execute(
        "UPDATE messages SET parent_id = (SELECT max(p.id) FROM messages p "
        "WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)"
    )
    op.execute(
        "UPDATE conversations SET current_leaf = "
        "(SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id)"
    )


def downgrade() -> None:
    op.drop_index("ix_messages_parent_id", table_name="messages")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("current_leaf")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("current_child")
        batch.drop_column("parent_id")
