"""The studio's routes: the page and its files, and the JSON it reads (``/studio/api/...``).

The page holds no data: it is the same for everyone, and everything it shows comes from
the JSON routes here and the public API (``/v1``), with the key the person entered. Off
this machine the studio needs API keys: a server without keys answers 401 to anyone not
on the loopback interface. The config and its checker are for operators: with keys on,
only a key of the config (``server.api_keys``, ``TROUPE_API_KEYS``) reads them; a tenant's
key (``troupe keys create``) gets 403.
"""

from __future__ import annotations

__all__ = ["Studio", "studio_router"]

import ipaddress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath
from litestar.static_files import create_static_files_router

from troupe import __version__
from troupe.config import ConfigSpec
from troupe.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RequestError,
    RequestTooLargeError,
)
from troupe.server._auth import ApiKeys
from troupe.server._errors import exception_handlers
from troupe.server._router import AppRouter
from troupe.server._run_routes import run_object
from troupe.server._service import ChatService
from troupe.store import ACTIVE, RunRecord
from troupe.studio._config import MAX_CHECK_BYTES, check_text, masked_config
from troupe.studio._runs import Pricing, curl_for, run_view
from troupe.studio._teams import team_views

if TYPE_CHECKING:
    from troupe.server._app import TroupePlugin

STATIC = Path(__file__).parent / "static"
MAX_RUNS = 200
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'"
)


@dataclass
class Studio:
    """What the studio's routes read: the service, keys, and the config it was loaded from."""

    service: ChatService
    api_keys: ApiKeys
    api_path: str
    spec: ConfigSpec | None = None
    config_file: Path | None = None
    pricing: Pricing = field(init=False)

    def __post_init__(self) -> None:
        self.pricing = Pricing(self.spec)


class CheckBody(msgspec.Struct, kw_only=True):
    yaml: str


_check_body = msgspec.json.Decoder(CheckBody)


def _loopback(connection: ASGIConnection) -> bool:  # type: ignore[type-arg]
    host = connection.client.host if connection.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _reachable(keys: ApiKeys) -> Any:
    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        if not keys.enabled and not _loopback(connection):
            raise AuthenticationError(
                "The studio is served to other machines only behind API keys: set "
                "server.api_keys (or TROUPE_API_KEYS), or open it on the server's own machine."
            )

    return guard


def _operators(keys: ApiKeys) -> Any:
    """Config keys and an open server's loopback only: a stored (tenant) key gets 403."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        if keys.principal(connection).name is not None:
            raise PermissionDeniedError(
                "The config and its checker are for the server's operators: use a key of "
                "server.api_keys (or TROUPE_API_KEYS), not one made with `troupe keys create`."
            )

    return guard


@cache
def _page() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


@get("/", sync_to_thread=False, include_in_schema=False)
def index(studio: NamedDependency[Studio]) -> Response[str]:
    page = _page().replace("{{api}}", studio.api_path).replace("{{version}}", __version__)
    page = page.replace("{{secured}}", "true" if studio.api_keys.enabled else "false")
    return Response(page, media_type=MediaType.HTML, headers={"content-security-policy": CSP})


@get("/api/teams", sync_to_thread=False)
def teams(studio: NamedDependency[Studio]) -> dict[str, Any]:
    return {"data": team_views(studio.service.teams, studio.spec)}


def _since(request: Request[Any, Any, Any]) -> float:
    raw = request.query_params.get("since") or "0"
    try:
        return float(raw)
    except ValueError:
        raise RequestError(
            f"since must be a time in seconds, not {raw[:32]!r}", param="since"
        ) from None


@get("/api/runs")
async def runs(request: Request[Any, Any, Any], studio: NamedDependency[Studio]) -> dict[str, Any]:
    """The caller's runs, newest first, filtered by ``team``, ``status``, ``conversation``
    and ``since`` (seconds since the epoch)."""
    query = request.query_params
    since = _since(request)
    scope = studio.api_keys.scope(request)
    manager = studio.service.manager
    stored = await manager.store.list_runs(
        scope=scope, conversation_id=query.get("conversation") or None, limit=MAX_RUNS
    )
    found: list[RunRecord] = []
    for record in stored:
        live = manager.local(record.id, scope)
        found.append(live.snapshot() if live is not None else record)
    team, status = query.get("team"), query.get("status")
    data = [
        run_object(r)
        for r in found
        if (not team or r.team == team)
        and (not status or r.status == status)
        and r.created_at >= since
    ]
    return {"object": "list", "data": data, "has_more": len(stored) == MAX_RUNS}


@get("/api/runs/{run_id:str}")
async def run(
    request: Request[Any, Any, Any], studio: NamedDependency[Studio], run_id: FromPath[str]
) -> dict[str, Any]:
    """A run replayed from its log: events with times and durations, usage, cost, errors."""
    scope = studio.api_keys.scope(request)
    manager = studio.service.manager
    record, events = await manager.events(run_id, scope)
    live = manager.local(run_id, scope)
    times = list(live.times) if live is not None else await manager.store.run_event_times(run_id)
    api_url = str(request.base_url).rstrip("/") + studio.api_path
    return {
        "run": run_object(record),
        "active": record.status in ACTIVE,
        "curl": curl_for(record, api_url, secured=studio.api_keys.enabled),
        **run_view(record, events, times, studio.pricing),
    }


@get("/api/config")
async def config(studio: NamedDependency[Studio]) -> dict[str, Any]:
    """The loaded config file, its secrets masked."""
    file = studio.config_file
    if file is None:
        return {"file": None, "yaml": None}
    text = await anyio.Path(file).read_text(encoding="utf-8")
    return {"file": file.name, "yaml": masked_config(text)}


@post("/api/check", status_code=200)
async def check(request: Request[Any, Any, Any], studio: NamedDependency[Studio]) -> dict[str, Any]:
    """``troupe check`` on the text sent: every error with its path. Writes nothing."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        # A form on another site may post text/plain here without asking first (CORS).
        raise RequestError("send the config as JSON (Content-Type: application/json)", param="yaml")
    try:
        data = _check_body.decode(await request.body())
    except msgspec.DecodeError as err:
        raise RequestError(
            f'the body must be {{"yaml": "<config text>"}}: {err}', param="yaml"
        ) from None
    if len(data.yaml.encode()) > MAX_CHECK_BYTES:
        raise RequestTooLargeError(
            f"the config to check is larger than {MAX_CHECK_BYTES // 1024} KiB: "
            "check a file that big with `troupe check`",
            param="yaml",
        )
    result: dict[str, Any] = await anyio.to_thread.run_sync(check_text, data.yaml)
    return result


def studio_router(plugin: TroupePlugin, *, path: str = "/studio") -> AppRouter:
    studio = Studio(
        service=plugin.service,
        api_keys=plugin.api_keys,
        api_path=plugin.path,
        spec=plugin.spec,
        config_file=plugin.config_file,
    )
    reachable = _reachable(plugin.api_keys)
    operators = AppRouter(
        path="/", route_handlers=[config, check], guards=[_operators(studio.api_keys)]
    )
    api = AppRouter(
        path="/",
        route_handlers=[teams, runs, run, operators],
        guards=[plugin.api_keys.guard()],
    )
    static = create_static_files_router(
        path="/static", directories=[STATIC], include_in_schema=False, guards=[reachable]
    )
    return AppRouter(
        path=path,
        route_handlers=[index, api, static],
        guards=[reachable],
        dependencies={"studio": Provide(lambda: studio, use_cache=True, sync_to_thread=False)},
        exception_handlers=exception_handlers,
    )
