"""Conversations as capable as local ones: a pin, a model and a system prompt of their
own; a reply's model and token usage.

Revision ID: 0005_conversation_extensions
Revises: 0004_attachments
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005_conversation_extensions"
down_revision = "0004_attachments"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN, never a batch copy: `messages` carries the FTS5 triggers of 0003.
CONVERSATION_COLUMNS: tuple[sa.Column[Any], ...] = (
    sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("system_prompt", sa.Text(), nullable=True),
)
MESSAGE_COLUMNS: tuple[sa.Column[Any], ...] = (
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("prompt_tokens", sa.Integer(), nullable=True),
    sa.Column("completion_tokens", sa.Integer(), nullable=True),
)


def upgrade() -> None:
    for column in CONVERSATION_COLUMNS:
        op.add_column("conversations", column)
    for column in MESSAGE_COLUMNS:
        op.add_column("messages", column)


def downgrade() -> None:
    for column in MESSAGE_COLUMNS:
        op.drop_column("messages", column.name)
    for column in CONVERSATION_COLUMNS:
        op.drop_column("conversations", column.name)
