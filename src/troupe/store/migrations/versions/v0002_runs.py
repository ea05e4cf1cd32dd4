"""Runs and their event logs; leases name their run and the process holding them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("troupe_leases") as batch:
        batch.add_column(sa.Column("run_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(160), nullable=True))
    op.create_table(
        "troupe_runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("background", sa.Boolean(), nullable=False),
        sa.Column("input", sa.LargeBinary(), nullable=False),
        sa.Column("usage", sa.LargeBinary(), nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("last_event_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_troupe_runs"),
    )
    op.create_index(
        "ix_troupe_runs_conversation", "troupe_runs", ["scope", "conversation_id", "created_at"]
    )
    op.create_index("ix_troupe_runs_status", "troupe_runs", ["status"])
    op.create_index("ix_troupe_runs_ended_at", "troupe_runs", ["ended_at"])
    op.create_table(
        "troupe_run_events",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("times", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "first_seq", name="pk_troupe_run_events"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["troupe_runs.id"], name="fk_troupe_run_events_run", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("troupe_run_events")
    op.drop_table("troupe_runs")
    with op.batch_alter_table("troupe_leases") as batch:
        batch.drop_column("owner")
        batch.drop_column("run_id")
