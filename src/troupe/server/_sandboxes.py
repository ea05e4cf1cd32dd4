"""Code sandboxes follow their conversations: gone when it is deleted or expires.

A sandbox belongs to an API key's conversation (``Sandbox(conversation_id,
scope)``). Deleting the conversation removes its sandboxes at once (on the
replica that deletes it; a Docker engine's volumes are shared by every replica
using it). Every ``every`` seconds, each executor's sandboxes unused for
``grace`` seconds whose conversation the store no longer has (expired, deleted
on another replica, or a memory store restarted) are removed too. A server
shutting down keeps them: the conversation goes on after a restart.
"""

from __future__ import annotations

__all__ = ["Sandboxes", "executors_of"]

import logging
import time
from collections.abc import Iterable

import anyio

from troupe.execution import Executor, Sandbox
from troupe.store import ConversationStore
from troupe.teams import Team

logger = logging.getLogger("troupe.server")


def executors_of(teams: Iterable[Team]) -> list[Executor]:
    """Every executor the teams' agents use, inner teams' (participants, tools) included."""
    found: dict[int, Executor] = {}
    seen: set[int] = set()

    def visit(team: Team) -> None:
        if id(team) in seen:
            return
        seen.add(id(team))
        for agent in team.agents:
            executor = getattr(agent, "executor", None)
            if isinstance(executor, Executor):
                found.setdefault(id(executor), executor)
            holders = [agent, *getattr(agent, "tools", {}).values()]
            for holder in holders:
                inner = getattr(holder, "team", None)
                if isinstance(inner, Team):
                    visit(inner)

    for team in teams:
        visit(team)
    return list(found.values())


class Sandboxes:
    """The executors of a server's teams, and the upkeep of their sandboxes."""

    def __init__(
        self,
        teams: Iterable[Team],
        store: ConversationStore,
        *,
        every: float = 300.0,
        grace: float = 600.0,
    ) -> None:
        self.executors = executors_of(teams)
        self.store = store
        self.every = every
        self.grace = grace

    async def end(self, conversation_id: str, scope: str) -> None:
        """Remove the conversation's sandboxes in every executor (its conversation is gone)."""
        for executor in self.executors:
            try:
                await executor.end_conversation(Sandbox(conversation_id, scope))
            except Exception:  # the conversation is gone anyway; the sweep retries
                logger.exception("executor %r could not remove a sandbox", executor.name)

    async def sweep(self, grace: float | None = None) -> int:
        """Remove the sandboxes of conversations that are gone; how many conversations'."""
        grace = self.grace if grace is None else grace
        removed = 0
        for executor in self.executors:
            for use in await executor.sandboxes():
                if time.time() - use.used_at < grace:
                    continue
                sandbox = use.sandbox
                if await self.store.load(sandbox.root, scope=sandbox.scope) is not None:
                    continue
                await executor.end_conversation(sandbox)
                removed += 1
        return removed

    async def maintain(self) -> None:
        """``sweep`` every ``every`` seconds until cancelled; errors are logged, not raised."""
        if not self.executors:
            return
        while True:
            # First after a while: starting a server touches no executor.
            await anyio.sleep(self.every)
            try:
                removed = await self.sweep()
                if removed:
                    logger.info("removed the sandboxes of %d ended conversation(s)", removed)
            except Exception as err:
                logger.warning("sandbox upkeep failed: %s", err)

    async def close(self) -> None:
        """Release what the executors hold in this process; the sandboxes stay."""
        for executor in self.executors:
            try:
                await executor.close()
            except Exception:  # shutting down: report it, close the rest
                logger.exception("closing the %s executor failed", type(executor).__name__)
