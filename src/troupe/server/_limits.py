"""What a run must pass to start for an API key: its teams and its limits.

``KeyLimits.admit`` is the run manager's one admission check (every view starts
runs through it): a team the key may not use is 404 ``model_not_found``, as if it
did not exist; past a limit the answer is 429 ``rate_limit_exceeded`` with
``Retry-After``. Requests and tokens per minute are counted with the ``limits``
library in ``server.rate_limit_storage`` (memory: this replica; Redis: every
replica), in fixed one-minute windows: a run counts one request when it starts
and its tokens when it ends (a run may go past the token limit; the next one
waits for the window to end). Runs at once are this replica's, and those the
store shows holding a conversation's lease on any replica (``leased``): a run
another replica began in the last few milliseconds may not show yet.
"""

from __future__ import annotations

__all__ = ["KeyLimits", "KeyRateLimitError"]

import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import anyio

from troupe.errors import ModelNotFoundError, RequestError
from troupe.server._auth import ApiKeys, Principal

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio.storage import Storage
    from limits.aio.strategies import FixedWindowRateLimiter

    from troupe.runs import LiveRun, RunStart

logger = logging.getLogger("troupe.server")


class KeyRateLimitError(RequestError):
    status_code = 429
    error_type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def limit_storage(uri: str) -> Storage:
    """The ``limits`` async storage for a ``server.rate_limit_storage`` URI."""
    from limits.aio.storage import Storage
    from limits.storage import storage_from_string

    if uri.startswith(("redis://", "rediss://")):
        storage = storage_from_string(f"async+{uri}", implementation="redispy")
    else:
        storage = storage_from_string(f"async+{uri}")
    assert isinstance(storage, Storage)
    return storage


class KeyLimits:
    """The admission of runs by API key, and (as a run observer) their token counts."""

    def __init__(
        self,
        keys: ApiKeys,
        teams: Any,
        storage: str = "memory://",
        leased: Callable[[str], Awaitable[set[str]]] | None = None,
    ) -> None:
        self.keys = keys
        # The ids of a scope's runs in progress on every replica (the store's leases).
        self.leased = leased
        self.teams = teams  # a live mapping of team names (the manager's)
        self.storage = storage
        # Made when a key with limits first comes (``limits`` takes a while to import).
        self._limiter: FixedWindowRateLimiter | None = None
        # Tokens of runs that ended, not yet counted in the storage: scope -> tokens.
        self._owed: Counter[str] = Counter()
        # Runs of this replica in progress, by scope: their ids.
        self._running: dict[str, set[str]] = {}

    @property
    def limiter(self) -> FixedWindowRateLimiter:
        if self._limiter is None:
            from limits.aio.strategies import FixedWindowRateLimiter

            self._limiter = FixedWindowRateLimiter(limit_storage(self.storage))
        return self._limiter

    async def admit(self, start: RunStart) -> None:
        principal = self.keys.principals.get(start.scope)
        if principal is None:
            return
        if not principal.allows(start.team):
            known = ", ".join(sorted(t for t in self.teams if principal.allows(t))) or "none"
            raise ModelNotFoundError(
                f"The model '{start.team}' does not exist (teams: {known})", param="model"
            )
        runs = principal.max_concurrent_runs
        if runs is not None and await self._running_at_once(start.scope) >= runs:
            raise KeyRateLimitError(
                f"this API key may have {runs} run(s) at once; retry when one ends",
                retry_after=1,
            )
        try:
            await self._counted(principal, start.scope)
        except KeyRateLimitError:
            raise
        except Exception as err:  # the storage is out of reach: serve rather than fail
            logger.warning("rate limits not checked: the storage failed: %s", err)

    async def _running_at_once(self, scope: str) -> int:
        here = self._running.get(scope, set())
        if self.leased is None:
            return len(here)
        try:
            return len(here | await self.leased(scope))
        except Exception as err:  # the store is out of reach: this replica's count
            logger.warning("runs of other replicas not counted: the store failed: %s", err)
            return len(here)

    async def _counted(self, principal: Principal, scope: str) -> None:
        """Refuse past the key's requests or tokens per minute; count this request."""
        await self.flush()
        if principal.tpm is not None:
            tokens = _per_minute(principal.tpm)
            if not await self.limiter.test(tokens, scope):
                await self._refuse(tokens, scope, f"{principal.tpm} tokens per minute")
        if principal.rpm is not None:
            requests = _per_minute(principal.rpm, "requests")
            if not await self.limiter.hit(requests, scope):
                await self._refuse(requests, scope, f"{principal.rpm} requests per minute")

    async def _refuse(self, item: RateLimitItem, scope: str, what: str) -> None:
        stats = await self.limiter.get_window_stats(item, scope)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise KeyRateLimitError(
            f"rate limit of this API key reached: {what}; retry in {wait} s", retry_after=wait
        )

    async def maintain(self, every: float = 1.0) -> None:
        """``flush`` every ``every`` seconds, so other replicas see the tokens soon."""
        while True:
            await anyio.sleep(every)
            try:
                await self.flush()
            except Exception as err:  # the storage is out of reach: counted next time
                logger.warning("cannot count tokens in the rate limit storage: %s", err)

    async def flush(self) -> None:
        """Count the tokens of the runs that ended since."""
        while self._owed:
            scope, tokens = self._owed.popitem()
            principal = self.keys.principals.get(scope)
            if principal is None or principal.tpm is None or tokens <= 0:
                continue
            try:
                await self.limiter.hit(_per_minute(principal.tpm), scope, cost=tokens)
            except BaseException:
                self._owed[scope] += tokens  # counted next time
                raise

    async def close(self) -> None:
        """Close the storage's connections (a Redis client's; memory has none)."""
        # ``limits`` has no close: its Redis bridge keeps the redis-py client as ``storage``.
        if self._limiter is None:
            return
        client: Any = getattr(getattr(self._limiter.storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()

    # --- a run observer -------------------------------------------------------------------

    def run_started(self, run: LiveRun) -> None:
        self._running.setdefault(run.record.scope, set()).add(run.id)

    def run_context(self, run: LiveRun) -> AbstractContextManager[None] | None:
        return None

    def run_ended(self, run: LiveRun) -> None:
        scope = run.record.scope
        running = self._running.get(scope)
        if running is not None:
            running.discard(run.id)
            if not running:
                del self._running[scope]
        self._owed[scope] += run.usage.total_tokens


def _per_minute(amount: int, what: str = "tokens") -> RateLimitItem:
    from limits import RateLimitItemPerMinute

    return RateLimitItemPerMinute(amount, namespace=f"troupe-{what}")
