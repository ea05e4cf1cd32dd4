"""How a run whose process died ends when nobody continues it."""

from __future__ import annotations

__all__ = ["LOST", "end_orphan", "lost_events"]

from troupe.events import Event, RunEnded, RunFailed
from troupe.messages import Usage
from troupe.store import ConversationStore, Lease, RunCommit, RunEnd, RunRecord, encode_events

LOST = "the server running this run stopped before it ended"


def lost_events(orphan: RunRecord, usage: Usage) -> list[Event]:
    """The last events of a run that lost its process: it failed, and it is over."""
    return [
        RunFailed(agent=orphan.team, code="run_lost", message=LOST),
        RunEnded(
            agent=orphan.team,
            stop_reason=f"error: {LOST}",
            conversation_id=orphan.conversation_id,
            run_id=orphan.id,
            usage=usage,
        ),
    ]


async def end_orphan(
    store: ConversationStore, orphan: RunRecord, usage: Usage, lease: Lease
) -> None:
    """End ``orphan`` failed in the store, under the conversation's lease ``lease`` (kept)."""
    events = lost_events(orphan, usage)
    await store.commit_runs(
        [
            RunCommit(
                run_id=orphan.id,
                scope=orphan.scope,
                conversation_id=orphan.conversation_id,
                lease=lease,
                first_seq=orphan.last_event_id + 1,
                last_seq=orphan.last_event_id + len(events),
                events=encode_events(events),
                end=RunEnd(status="failed", stop_reason=f"error: {LOST}", usage=usage),
                release=False,
            )
        ]
    )
