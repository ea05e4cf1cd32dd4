"""The tables, as SQLAlchemy Core sees them. Migrations (``migrations/``) create them;
a test checks that the two agree.

``troupe_conversations``  one row per conversation: the state without its
                          transcript (``state``), the latest history fingerprint,
                          listing columns.
``troupe_items``          the transcript, one msgspec-encoded message per row,
                          appended in the transaction that saves the state.
``troupe_leases``         who is advancing a conversation now, until when, and
                          whether a stop was asked.

Times are seconds since the epoch, from the database's clock (one clock for
every replica).
"""

from __future__ import annotations

__all__ = ["SCHEMA_REVISION", "VERSION_TABLE", "conversations", "items", "leases", "metadata"]

import sqlalchemy as sa

# The Alembic revision these tables are at (a test keeps it equal to the latest
# migration): a database already there is used without loading Alembic.
SCHEMA_REVISION = "0001"
VERSION_TABLE = "troupe_alembic_version"

metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})

conversations = sa.Table(
    "troupe_conversations",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("team", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False, server_default=""),
    sa.Column("state", sa.LargeBinary(), nullable=False),
    sa.Column("item_count", sa.Integer(), nullable=False),
    sa.Column("transcript_bytes", sa.BigInteger(), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=True),
    sa.Column("waiting_for", sa.String(64), nullable=True),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("updated_at", sa.Double(), nullable=False),
    sa.Index("ix_troupe_conversations_fingerprint", "fingerprint"),
    sa.Index("ix_troupe_conversations_listing", "scope", "created_at", "id"),
    sa.Index("ix_troupe_conversations_updated_at", "updated_at"),
)

items = sa.Table(
    "troupe_items",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("conversation_id", sa.String(128), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(
        ["scope", "conversation_id"],
        ["troupe_conversations.scope", "troupe_conversations.id"],
        name="fk_troupe_items_conversation",
        ondelete="CASCADE",
    ),
)

leases = sa.Table(
    "troupe_leases",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("conversation_id", sa.String(128), primary_key=True),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.Double(), nullable=False),
    sa.Column("stop_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index("ix_troupe_leases_token", "token"),
)
