"""With API keys on, no route answers without one, but those meant for anyone.

Walks every HTTP route the app has (its API, the agent protocols at both their
paths, the studio, MCP, telemetry), so that a route added later, or a hook
that replaces the key check on one, is caught here.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import pytest
from litestar import Litestar, Request
from litestar.routes import ASGIRoute, HTTPRoute

from troupe.agents import AssistantAgent
from troupe.config import ConfigSpec, ServerSpec
from troupe.config.spec import MetricsSpec
from troupe.models import ScriptedModel
from troupe.server import TroupePlugin, create_app
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio

# Open by design: liveness (docs/deployment.md), the API's description, the
# A2A agent cards (they say how to authenticate), the studio's page and static files (its
# data comes from the API, with a key).
PUBLIC = re.compile(
    r"^/(health|ready|openapi\.json|docs|schema)\b"
    r"|agent-card\.json$|agent\.json$|/\.well-known/"
    r"|^/studio(/static|/?$|/\{)"
)


def routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, ASGIRoute):  # a mounted app (MCP): asked as its clients ask
            found.append(("POST", route.path))
        elif isinstance(route, HTTPRoute):
            found.extend(
                (method, route.path) for method in sorted(route.methods - {"OPTIONS", "HEAD"})
            )
    return found


async def test_every_route_but_the_public_ones_asks_for_a_key(
    raw_client: Callable[[Litestar], Awaitable[httpx2.AsyncClient]],
) -> None:
    team = RoundRobinTeam(name="t", agents=[AssistantAgent(name="a", model=ScriptedModel(["hi"]))])
    metrics = ServerSpec(metrics=MetricsSpec(enabled=True))  # /metrics too
    app = create_app(ConfigSpec(server=metrics), teams=[team], api_keys=["key-0123456789"])
    client = await raw_client(app)
    checked, open_routes = 0, []
    for method, path in routes(app):
        if PUBLIC.search(path):
            continue
        url = re.sub(r"\{[^}]+\}", "t", path)
        for headers in ({}, {"Authorization": "Bearer wrong-key-000"}):
            response = await client.request(method, url, json={}, headers=headers)
            if response.status_code != 401:
                open_routes.append((method, path, headers, response.status_code))
        checked += 1
    assert not open_routes
    assert checked >= 30  # the API, its protocols at both paths, the studio's data, MCP


async def test_an_embedding_apps_own_hook_still_runs_on_troupes_routes(
    raw_client: Callable[[Litestar], Awaitable[httpx2.AsyncClient]],
) -> None:
    seen: list[str] = []

    async def audit(request: Request[Any, Any, Any]) -> None:
        seen.append(request.url.path)

    team = RoundRobinTeam(name="t", agents=[AssistantAgent(name="a", model=ScriptedModel(["hi"]))])
    app = Litestar(
        plugins=[TroupePlugin([team], api_keys=["key-0123456789"])], before_request=audit
    )
    client = await raw_client(app)
    assert (await client.get("/v1/models")).status_code == 401
    assert seen == []  # the key is checked first
    ok = await client.get("/v1/models", headers={"Authorization": "Bearer key-0123456789"})
    assert ok.status_code == 200 and seen == ["/v1/models"]
