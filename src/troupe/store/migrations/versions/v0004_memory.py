"""The model response cache and agent memory.

Revision ID: 0004
Revises: 0002 (re-pointed to 0003 when the keys migration is merged)
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "troupe_model_cache",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "troupe_memory",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("memory", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False, server_default=""),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("metadata", sa.LargeBinary(), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sa.String(128), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_troupe_memory_memory", "troupe_memory", ["memory", "scope"])


def downgrade() -> None:
    op.drop_index("ix_troupe_memory_memory", table_name="troupe_memory")
    op.drop_table("troupe_memory")
    op.drop_table("troupe_model_cache")
