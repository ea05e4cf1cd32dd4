"""The fingerprint index covers the whole lookup: fingerprint, scope, last use.

A plain client's next turn finds its conversation by the fingerprint of its
history, in its scope, most recently used first. With the fingerprint alone
indexed, SQLite's planner took the listing index (scope, created_at, id) for
it, reading every conversation of the scope on every such turn (0.8 ms at
5,000 conversations, growing with them); with this one it reads one entry.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_TABLE = "troupe_conversations"
_INDEX = "ix_troupe_conversations_fingerprint"


def upgrade() -> None:
    op.drop_index(_INDEX, table_name=_TABLE)
    op.create_index(_INDEX, _TABLE, ["fingerprint", "scope", "updated_at"])


def downgrade() -> None:
    op.drop_index(_INDEX, table_name=_TABLE)
    op.create_index(_INDEX, _TABLE, ["fingerprint"])
