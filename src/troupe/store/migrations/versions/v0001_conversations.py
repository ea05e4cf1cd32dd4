"""Conversations, their transcript items, and leases.

Revision ID: 0001
Revises:
Create Date: 2026-05-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "troupe_conversations",
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False, server_default=""),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("transcript_bytes", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("waiting_for", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "id", name="pk_troupe_conversations"),
    )
    op.create_index("ix_troupe_conversations_fingerprint", "troupe_conversations", ["fingerprint"])
    op.create_index(
        "ix_troupe_conversations_listing", "troupe_conversations", ["scope", "created_at", "id"]
    )
    op.create_index("ix_troupe_conversations_updated_at", "troupe_conversations", ["updated_at"])
    op.create_table(
        "troupe_items",
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "conversation_id", "seq", name="pk_troupe_items"),
        sa.ForeignKeyConstraint(
            ["scope", "conversation_id"],
            ["troupe_conversations.scope", "troupe_conversations.id"],
            name="fk_troupe_items_conversation",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "troupe_leases",
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("stop_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("scope", "conversation_id", name="pk_troupe_leases"),
    )
    op.create_index("ix_troupe_leases_token", "troupe_leases", ["token"])


def downgrade() -> None:
    op.drop_table("troupe_leases")
    op.drop_table("troupe_items")
    op.drop_table("troupe_conversations")
