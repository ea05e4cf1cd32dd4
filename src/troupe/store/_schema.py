"""The tables, as SQLAlchemy Core sees them. Migrations (``migrations/``) create them;
a test checks that the two agree.

``troupe_conversations``  one row per conversation: the state without its
                          transcript (``state``), the latest history fingerprint,
                          listing columns.
``troupe_items``          the transcript, one msgspec-encoded message per row,
                          appended in the transaction that saves the state.
``troupe_leases``         who is advancing a conversation now (the run, and the
                          process: host, pid and start time), until when.
``troupe_runs``           one row per run: its status, what started it (the new
                          messages, how its views render it), its usage and the
                          sequence number of its last stored event.
``troupe_run_events``     a run's event log, in batches: events ``first_seq`` to
                          ``last_seq``, one msgspec-encoded event per line.
``troupe_api_keys``       API keys made with ``troupe keys create``: the SHA-256 of
                          each key (never the key), its teams and limits.
``troupe_model_cache``    model responses by request hash (``cache: {store: database}``).
``troupe_memory``         agent memory entries: text, metadata, an embedding.

Times are seconds since the epoch, from the database's clock (one clock for
every replica).
"""

from __future__ import annotations

__all__ = [
    "SCHEMA_REVISION",
    "VERSION_TABLE",
    "api_keys",
    "conversations",
    "items",
    "leases",
    "memory_entries",
    "metadata",
    "model_cache",
    "run_events",
    "runs",
]

import sqlalchemy as sa

# The Alembic revision these tables are at (a test keeps it equal to the latest
# migration): a database already there is used without loading Alembic.
SCHEMA_REVISION = "0005"
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
    # What a plain client's next turn looks up (``find``): one entry, not the scope's rows.
    sa.Index("ix_troupe_conversations_fingerprint", "fingerprint", "scope", "updated_at"),
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
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("owner", sa.String(160), nullable=True),
    sa.Index("ix_troupe_leases_token", "token"),
)

runs = sa.Table(
    "troupe_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
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
    sa.Index("ix_troupe_runs_conversation", "scope", "conversation_id", "created_at"),
    sa.Index("ix_troupe_runs_status", "status"),
    sa.Index("ix_troupe_runs_ended_at", "ended_at"),
)

run_events = sa.Table(
    "troupe_run_events",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("first_seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("last_seq", sa.Integer(), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    # When each event happened: milliseconds since the run was created, a JSON list.
    sa.Column("times", sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(
        ["run_id"], ["troupe_runs.id"], name="fk_troupe_run_events_run", ondelete="CASCADE"
    ),
)

api_keys = sa.Table(
    "troupe_api_keys",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    # A JSON list of team names; NULL: every team.
    sa.Column("teams", sa.Text(), nullable=True),
    sa.Column("rpm", sa.Integer(), nullable=True),
    sa.Column("tpm", sa.Integer(), nullable=True),
    sa.Column("max_concurrent_runs", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("revoked_at", sa.Double(), nullable=True),
    sa.Index("ix_troupe_api_keys_digest", "digest", unique=True),
)

model_cache = sa.Table(
    "troupe_model_cache",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
)

memory_entries = sa.Table(
    "troupe_memory",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("memory", sa.String(128), nullable=False),
    sa.Column("scope", sa.String(64), nullable=False, server_default=""),
    sa.Column("content", sa.Text(), nullable=False),
    sa.Column("metadata", sa.LargeBinary(), nullable=True),
    # float32 little-endian, as written by ``troupe.memory``.
    sa.Column("embedding", sa.LargeBinary(), nullable=True),
    sa.Column("embedding_model", sa.String(128), nullable=True),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Index("ix_troupe_memory_memory", "memory", "scope"),
)
