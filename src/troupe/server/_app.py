"""The Litestar plugin and ``create_app``: how troupe joins an app, or becomes one."""

from __future__ import annotations

__all__ = ["TroupePlugin", "create_app"]

import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import sniffio
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.di import NamedDependency, Provide
from litestar.plugins import InitPluginProtocol

from troupe.config import ConfigSpec, ServerSpec, load_teams
from troupe.runs import RunManager, RunSettings
from troupe.server._auth import ApiKeys
from troupe.server._context import request_context
from troupe.server._conversations import conversation_handlers
from troupe.server._docs import docs_handlers
from troupe.server._errors import exception_handlers
from troupe.server._health import health_handlers
from troupe.server._limits import KeyLimits
from troupe.server._mcp import mcp_endpoint, mcp_running
from troupe.server._protocols import protocol_handlers, public_protocol_handlers
from troupe.server._push import remember_direct_send
from troupe.server._router import AppRouter
from troupe.server._routes import Settings, route_handlers
from troupe.server._run_routes import run_handlers
from troupe.server._sandboxes import Sandboxes
from troupe.server._service import ChatService, run_fingerprint
from troupe.server._store import MEMORY_DEFAULT, ConversationStore, store_for
from troupe.server.conversations_api import conversations_handlers
from troupe.server.responses_api import response_handlers
from troupe.store import StoreError
from troupe.teams import Team
from troupe.telemetry import Telemetry

logger = logging.getLogger("troupe.server")


def _env_keys() -> list[str]:
    return [k.strip() for k in os.environ.get("TROUPE_API_KEYS", "").split(",") if k.strip()]


class TroupePlugin(InitPluginProtocol):
    """Adds troupe's OpenAI-compatible routes to a Litestar app under ``path``.

    ``teams`` are built ``Team`` objects (Python) or come from a config file
    (``TroupePlugin.from_config``). Errors under ``path`` are OpenAI-shaped;
    the rest of the app keeps its own error handling.

    Conversations go to ``store``, or to the database of ``server.database_url``
    / ``TROUPE_DATABASE_URL``; without either, a config file's teams keep them
    in SQLite (``.troupe/troupe.db``) and teams built in Python in memory. The
    app opens the store on start (migrating its schema) and closes it on
    shutdown. Meanwhile the run manager owns every run: it runs them, writes
    their logs, and takes over the runs of replicas that died.
    """

    def __init__(
        self,
        teams: Mapping[str, Team] | Iterable[Team],
        *,
        path: str = "/v1",
        api_keys: Iterable[str] = (),
        store: ConversationStore | None = None,
        server: ServerSpec | None = None,
    ) -> None:
        team_map = (
            dict(teams) if isinstance(teams, Mapping) else {team.name: team for team in teams}
        )
        self.server = server = server or ServerSpec()
        self.path = path
        self.store: ConversationStore = (
            store if store is not None else store_for(server, default=MEMORY_DEFAULT)
        )
        self.telemetry = Telemetry(server.metrics)
        self.api_keys = ApiKeys(
            [*api_keys, *server.api_keys, *_env_keys()],
            self.store,
            cache_seconds=server.key_cache_seconds,
        )
        self.runs = RunManager(
            team_map,
            self.telemetry.store(self.store),
            RunSettings(
                busy_policy=server.busy_policy,
                busy_wait_seconds=server.busy_wait_seconds,
                max_transcript_bytes=server.max_transcript_bytes,
                lease_seconds=server.lease_seconds,
                flush_seconds=server.run_log_flush_seconds,
            ),
            fingerprint=run_fingerprint,
            observers=self.telemetry.observers(),
        )
        self.limits = KeyLimits(
            self.api_keys,
            self.runs.teams,
            server.rate_limit_storage,
            leased=self._leased_runs,
        )
        self.runs.admission = self.limits
        self.runs.observers.append(self.limits)
        self.sandboxes = Sandboxes(team_map.values(), self.store)
        self.service = ChatService(self.runs, self.sandboxes)
        self.settings = Settings(
            keepalive=server.keepalive_seconds, on_disconnect=server.on_disconnect
        )
        # The config these teams came from (``from_config``), for the studio's pages.
        self.spec: ConfigSpec | None = None
        self.config_file: Path | None = None
        # Every team as a tool of the MCP server at /mcp (with the mcp package).
        self.mcp = mcp_endpoint(self.runs, self.api_keys)

    async def _leased_runs(self, scope: str) -> set[str]:
        return await self.store.runs_holding_leases(scope=scope)

    async def drain(self) -> None:
        """Take no new runs; give those in progress ``server.shutdown_grace_seconds``, then
        stop them (background runs are left for another replica). Their streams end."""
        await self.runs.drain(self.server.shutdown_grace_seconds)

    async def draining(self) -> str | None:
        """A readiness check: a server shutting down takes no new runs."""
        return None if self.runs.accepting else "shutting down: no new runs are taken"

    @classmethod
    def from_config(cls, config: str | Path, **kwargs: Any) -> TroupePlugin:
        spec, teams = load_teams(config)
        if kwargs.get("store") is None:
            kwargs["store"] = store_for(spec.server)
        plugin = cls(teams, server=spec.server, **kwargs)
        plugin.spec, plugin.config_file = spec, Path(config)
        return plugin

    @asynccontextmanager
    async def _lifespan(self, _: Litestar) -> AsyncIterator[None]:
        store = self.store
        with _serving_on_asyncio():
            async with self._serving(store):
                yield

    @asynccontextmanager
    async def _serving(self, store: ConversationStore) -> AsyncIterator[None]:
        try:
            try:
                await store.open()
            except StoreError as err:
                logger.error("cannot start: %s", err.message)
                raise
            async with (
                mcp_running(self.service.teams.values(), self.mcp),
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(store.maintain)
                tg.start_soon(self.runs.serve)
                tg.start_soon(self.sandboxes.maintain)
                tg.start_soon(self.limits.maintain)
                await self.runs.ready()  # a request right after the start finds it serving
                try:
                    yield
                finally:
                    with anyio.CancelScope(shield=True):
                        await self.runs.drain(self.server.shutdown_grace_seconds)
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await store.close()
                await self.sandboxes.close()
                await self.limits.close()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        # Chained, each the next one's argument: Litestar resolves the dependencies of a
        # level in a task group of their own (three tasks per request, ~0.1 ms of CPU),
        # and one after the other when each level has one.
        def service() -> Any:
            return self.service

        def api_keys(service: NamedDependency[Any]) -> Any:
            return self.api_keys

        def settings(api_keys: NamedDependency[Any]) -> Any:
            return self.settings

        dependencies = {
            name: Provide(provide, use_cache=True, sync_to_thread=False)
            for name, provide in (
                ("service", service),
                ("api_keys", api_keys),
                ("settings", settings),
            )
        }
        # The key is checked before each request (a hook: a guard costs Litestar a copy of
        # the route handler per request), then the app's own hook, if it has one.
        authorized = self.api_keys.before_request(app_config.before_request)
        router = AppRouter(
            path=self.path,
            route_handlers=[
                *route_handlers,
                *run_handlers,
                *conversation_handlers,
                *response_handlers,
                *conversations_handlers,
                *protocol_handlers(),
            ],
            before_request=authorized,
            dependencies=dependencies,
            exception_handlers=exception_handlers,
            request_max_body_size=self.server.max_body_bytes,
            opt={"troupe": self},  # the chat route's parts (see ``chat_completions``)
        )
        app_config.route_handlers.append(router)
        # What anyone may read (A2A agent cards say how to authenticate): no key asked.
        public = AppRouter(
            path=self.path,
            route_handlers=public_protocol_handlers(),
            dependencies=dependencies,
            exception_handlers=exception_handlers,
        )
        app_config.route_handlers.append(public)
        if self.path == "/v1":
            # The agent protocols' own clients are often pointed at the bare paths
            # (``/ag-ui/{team}``, ``/a2a/{team}``): the same endpoints answer there too.
            app_config.route_handlers.append(
                AppRouter(
                    path="/",
                    route_handlers=protocol_handlers(),
                    before_request=authorized,
                    dependencies=dependencies,
                    exception_handlers=exception_handlers,
                    request_max_body_size=self.server.max_body_bytes,
                )
            )
            app_config.route_handlers.append(
                AppRouter(
                    path="/",
                    route_handlers=public_protocol_handlers(),
                    dependencies=dependencies,
                    exception_handlers=exception_handlers,
                )
            )
        # /metrics on the API's port: with keys on, a key that sees every team scrapes it.
        scrape = self.telemetry.route_handlers(self.api_keys.before_request(unrestricted=True))
        if scrape:
            app_config.route_handlers.append(
                AppRouter(path="/", route_handlers=scrape, exception_handlers=exception_handlers)
            )
        app_config.middleware.extend(self.telemetry.middleware())
        # Before the runs' lifespan: on while runs drain at shutdown.
        app_config.lifespan.append(lambda _: self.telemetry.lifespan())
        if self.server.studio:
            from troupe.studio import studio_router

            app_config.route_handlers.append(studio_router(self))
        app_config.lifespan.append(self._lifespan)
        if self.mcp is not None:
            app_config.route_handlers.append(self.mcp.handler())
        if self.api_keys.enabled:
            logger.info("API keys required on %s", self.path)
        return app_config


def create_app(
    config: str | Path | ConfigSpec | None = None,
    *,
    teams: Mapping[str, Team] | Iterable[Team] | None = None,
    api_keys: Iterable[str] = (),
    store: ConversationStore | None = None,
    path: str = "/v1",
    debug: bool = False,
) -> Litestar:
    """A standalone troupe app: ``/v1`` routes, ``/health/live`` and ``/health/ready``.

    Give a config file path, or ``teams`` built in Python (then ``config`` may
    be a ``ConfigSpec`` for server settings).
    """
    if teams is not None:
        server = config.server if isinstance(config, ConfigSpec) else None
        plugin = TroupePlugin(teams, path=path, api_keys=api_keys, store=store, server=server)
    elif isinstance(config, (str, Path)):
        plugin = TroupePlugin.from_config(config, path=path, api_keys=api_keys, store=store)
    else:
        raise TypeError("create_app needs a config file path or teams=...")

    cors = (
        CORSConfig(
            allow_origins=list(plugin.server.cors_origins),
            # Browser clients need them to continue a conversation, resume a run, and
            # quote a request in a bug report.
            expose_headers=["X-Conversation-Id", "X-Run-Id", "X-Request-Id"],
        )
        if plugin.server.cors_origins
        else None
    )
    app = Litestar(
        route_handlers=[
            *health_handlers(plugin.service, plugin.draining),
            *docs_handlers(plugin.service, prefix=path, secured=plugin.api_keys.enabled),
        ],
        plugins=[plugin],
        middleware=[request_context],
        exception_handlers=exception_handlers,
        cors_config=cors,
        openapi_config=None,
        # Logging is the host's (troupe serve configures it); Litestar's default adds a
        # queue handler and an INFO root logger that logs every upstream request.
        logging_config=None,
        debug=debug,
        request_max_body_size=plugin.server.max_body_bytes,
    )
    # Its middleware (request id, telemetry, CORS) look at a response's start only: a run's
    # stream may write its frames with the server's own send (troupe.server._push).
    app.asgi_handler = remember_direct_send(app.asgi_handler)
    return app


@contextmanager
def _serving_on_asyncio() -> Iterator[None]:
    """While the app serves on asyncio, say so to sniffio for this thread (the event loop's).
    anyio asks it which loop runs at every event, cancel scope and timeout it makes, about
    twenty times a request: without the answer, a task lookup and, on Python 3.11, a
    ``getpid`` system call each."""
    if sniffio.thread_local.name is not None or sniffio.current_async_library() != "asyncio":
        yield
        return
    sniffio.thread_local.name = "asyncio"
    try:
        yield
    finally:
        sniffio.thread_local.name = None
