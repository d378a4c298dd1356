"""Token versions and login sessions (refresh rotation); shared limits for replicas.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("refresh_jti", sa.String(32), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_auth_sessions_user_id", "auth_sessions", ["user_id"])
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("replica_id", sa.String(32), sa.ForeignKey("replicas.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_leases_replica_id", "leases", ["replica_id"])
    op.create_index("ix_leases_kind_user", "leases", ["kind", "user_id"])
    op.create_index("ix_leases_kind_address", "leases", ["kind", "address"])
    op.create_table(
        "turn_tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("replica_id", sa.String(32), sa.ForeignKey("replicas.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
    )
    op.create_index("ix_turn_tickets_replica_id", "turn_tickets", ["replica_id"])
    op.create_index("ix_turn_tickets_conversation", "turn_tickets", ["user_id", "conversation_id", "id"])
    op.create_table(
        "rate_hits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rate_hits_key_at", "rate_hits", ["key", "at"])


def downgrade() -> None:
    for table in ("rate_hits", "turn_tickets", "leases", "replicas", "auth_sessions"):
        op.drop_table(table)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_version")
