"""Health for orchestrators: ``/health/live``, ``/health/ready``, and the older ``/health``.

*Live* means the process answers HTTP: a failing liveness probe gets the
process restarted. *Ready* means it can serve requests now: the store answers
and its schema is the one this version needs (a store that has its own
``check_ready`` is asked; an in-memory one is always ready). A replica that
is not ready answers 503 and is taken out of the load balancer's rotation
until it is. Another readiness condition (the server draining, say) is one
more ``Check`` passed to ``health_handlers``.
"""

from __future__ import annotations

__all__ = ["READY_TIMEOUT_SECONDS", "health_handlers"]

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from litestar import MediaType, Response, get
from litestar.handlers import HTTPRouteHandler

from troupe.errors import TroupeError
from troupe.server._service import ChatService

logger = logging.getLogger("troupe.server")

# A probe that waits longer than this is answered 503: a slow store is not a ready one.
READY_TIMEOUT_SECONDS = 5.0

# A readiness check returns None when ready, else what is wrong (for the log).
Check = Callable[[], Awaitable[str | None]]


def _store_check(service: ChatService) -> Check:
    async def check() -> str | None:
        check_ready = getattr(service.store, "check_ready", None)
        if check_ready is None:
            return None
        try:
            with anyio.fail_after(READY_TIMEOUT_SECONDS):
                await check_ready()
        except TimeoutError:
            return f"the store did not answer within {READY_TIMEOUT_SECONDS:g} s"
        except TroupeError as err:
            return err.message
        return None

    return check


def health_handlers(service: ChatService, *extra_checks: Check) -> list[HTTPRouteHandler]:
    """The health routes for ``service``; ``extra_checks`` add conditions to readiness."""
    checks = [_store_check(service), *extra_checks]
    last_problem: list[str | None] = [None]

    @get("/health/live", sync_to_thread=False, include_in_schema=False)
    def live() -> dict[str, Any]:
        return {"status": "ok"}

    @get("/health/ready", include_in_schema=False)
    async def ready() -> Response[dict[str, Any]]:
        problem = None
        for check in checks:
            problem = await check()
            if problem:
                break
        if problem != last_problem[0]:
            # Logged when readiness changes, not at every probe.
            if problem:
                logger.warning("not ready: %s", problem)
            elif last_problem[0]:
                logger.info("ready again")
            last_problem[0] = problem
        status = {"status": "not_ready"} if problem else {"status": "ready"}
        return Response(status, status_code=503 if problem else 200, media_type=MediaType.JSON)

    @get("/health", sync_to_thread=False, include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "teams": len(service.teams), "active_runs": service.active_runs}

    return [live, ready, health]
