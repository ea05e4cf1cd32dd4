"""API keys made with ``troupe keys create``: hashed, with their teams and limits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "troupe_api_keys",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("teams", sa.Text(), nullable=True),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("tpm", sa.Integer(), nullable=True),
        sa.Column("max_concurrent_runs", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_troupe_api_keys"),
    )
    op.create_index("ix_troupe_api_keys_digest", "troupe_api_keys", ["digest"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_troupe_api_keys_digest", table_name="troupe_api_keys")
    op.drop_table("troupe_api_keys")
