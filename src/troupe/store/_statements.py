"""The statements of a run's commit, built once per database.

Building a SQLAlchemy statement costs about 100 µs of CPU (its elements, their
coercions, its cache key); one built once with bind parameters and executed
with a dict of values costs about 20 µs. A run's commit executes eight or so,
so those are built here once, with the database's clock in them. Where-clause
parameters are named ``k_*``; other keys of the dict are the columns set.
"""

from __future__ import annotations

__all__ = ["Statements"]

import sqlalchemy as sa

from troupe.store._schema import conversations, items, leases, run_events, runs


def _key(table: sa.Table) -> sa.ColumnElement[bool]:
    """The where clause of a conversation's rows: ``k_scope`` and ``k_id``."""
    id_column = table.c.id if table is conversations else table.c.conversation_id
    return sa.and_(table.c.scope == sa.bindparam("k_scope"), id_column == sa.bindparam("k_id"))


class Statements:
    def __init__(self, now: sa.ColumnElement[float]) -> None:
        lease = sa.and_(_key(leases), leases.c.token == sa.bindparam("k_token"))
        expires = now + sa.bindparam("k_seconds", type_=sa.Double)
        self.renew_lease = leases.update().where(lease).values(expires_at=expires)
        # A lease of a conversation minted by its run: nobody else can hold it.
        self.new_lease = leases.insert().values(expires_at=expires)
        self.release_lease = leases.delete().where(lease)

        self.insert_run = runs.insert().values(updated_at=now)
        self.insert_ended_run = runs.insert().values(updated_at=now, ended_at=now)
        self.update_run = runs.update().where(runs.c.id == sa.bindparam("k_run"))
        self.update_run = self.update_run.values(updated_at=now)
        self.end_run = self.update_run.values(ended_at=now)
        self.insert_events = run_events.insert()
        # PostgreSQL: tell the replicas following a run that it has new events.
        self.notify = sa.select(
            sa.func.pg_notify(sa.bindparam("k_channel"), sa.bindparam("k_payload"))
        )

        self.lock_conversation = (
            sa.select(
                conversations.c.item_count,
                conversations.c.transcript_bytes,
                conversations.c.title,
            )
            .where(_key(conversations))
            .with_for_update()
        )
        self.last_item = sa.select(items.c.data).where(
            _key(items), items.c.seq == sa.bindparam("k_seq")
        )
        self.insert_conversation = conversations.insert().values(created_at=now, updated_at=now)
        self.update_conversation = (
            conversations.update().where(_key(conversations)).values(updated_at=now)
        )
        self.delete_items = items.delete().where(_key(items))
        self.insert_items = items.insert()
