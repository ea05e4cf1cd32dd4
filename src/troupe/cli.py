"""The ``troupe`` command: ``serve``, ``check``, ``chat``, ``import`` and ``export``."""

from __future__ import annotations

__all__ = ["main"]

import argparse
import gc
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from troupe.errors import ConfigError
from troupe.interop import _cli as _interop_cli


def _default_config() -> Path:
    from troupe.examples import BUNDLED_CONFIG

    if os.environ.get("TROUPE_CONFIG"):
        return Path(os.environ["TROUPE_CONFIG"])
    local = Path("teams.yaml")
    return local if local.exists() else BUNDLED_CONFIG


def _print_config_error(err: ConfigError) -> None:
    where = f"{err.source}: " if err.source else ""
    print(f"{where}{len(err.issues)} error(s)", file=sys.stderr)
    for issue in err.issues:
        print(f"  {issue}", file=sys.stderr)


def _serve(args: argparse.Namespace) -> int:
    # Starting allocates some 200,000 objects (modules, classes, functions) that live as
    # long as the process, and next to no garbage: the cyclic GC would walk them all in
    # each full collection, a tenth of a second of a start and a pause now and then after.
    # Off while starting; once serving, they are frozen (never walked again) and it is on.
    gc.disable()
    import uvicorn

    from troupe import logs
    from troupe.server import InMemoryConversationStore, TroupePlugin, create_app
    from troupe.server._http import http_options
    from troupe.server._shutdown import DrainingServer

    config = Path(args.config) if args.config else _default_config()
    logs.configure(args.log_format, args.log_level)
    # Alembic announces its plugins and each step of every start's schema check: the
    # store says the one thing that matters (where conversations are, at which revision).
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    # The MCP SDK announces its session manager and every request it handles.
    logging.getLogger("mcp").setLevel(max(logging.WARNING, logging.getLogger().level))
    # Uvicorn's start-up chatter (process id, "waiting for startup", its own address) says
    # nothing the lines below do not; its errors still show, all of it with --log-level debug.
    quiet = logging.DEBUG if args.log_level == "debug" else logging.WARNING
    logging.getLogger("uvicorn.error").setLevel(quiet)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    try:
        app = create_app(config)
    except ConfigError as err:
        _print_config_error(err)
        return 1
    plugin = app.plugins.get(TroupePlugin)
    url = f"http://{args.host}:{args.port}{plugin.path}"
    say = logging.getLogger("troupe")
    if not plugin.api_keys.enabled:
        say.info("API keys off: anyone who can reach %s can use the teams", url)
    if isinstance(plugin.store, InMemoryConversationStore):
        say.info("conversations in memory: they end with the process")
    teams = ", ".join(plugin.service.teams)

    def serving() -> None:  # once the store is open: the server is really up
        gc.freeze()
        # A request makes a few thousand short-lived objects, nearly none in cycles: collect
        # the young generation every 10,000 allocations rather than 700, and the older ones
        # less often (bench: the collector took a quarter of a request's CPU at c=64).
        gc.set_threshold(10_000, 20, 20)
        gc.enable()
        say.info("serving %s (from %s) on %s", teams, config, url)
        if plugin.server.studio:
            say.info("studio: http://%s:%s/studio", args.host, args.port)

    app.on_startup.append(serving)
    options = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        # Logging is configured above: uvicorn's lines go through the same handler and format.
        log_config=None,
        log_level=None,
        access_log=args.access_log,
        timeout_graceful_shutdown=10,
        **http_options(),
    )
    DrainingServer(options, plugin.drain).run()
    return 0


def _check(args: argparse.Namespace) -> int:
    from troupe.config import load_teams

    try:
        spec, teams = load_teams(args.config)
    except ConfigError as err:
        _print_config_error(err)
        return 1
    print(
        f"{args.config}: ok, {len(teams)} team(s): {', '.join(teams)}; {len(spec.models)} model(s)"
    )
    if args.connect and spec.mcp_servers:
        import anyio

        from troupe.mcp import check_servers

        ok, lines = anyio.run(check_servers, spec.mcp_servers)
        print(f"MCP servers ({len(spec.mcp_servers)}):", *lines, sep="\n")
        return 0 if ok else 1
    return 0


def database_url_of(args: argparse.Namespace) -> str | None:
    """``--database-url``, else the database of ``--config`` (as ``serve`` picks it); None
    when the config is invalid (its errors printed)."""
    from troupe.config import load_config
    from troupe.server._store import database_url
    from troupe.store import DEFAULT_DATABASE_URL

    if args.database_url:
        return str(args.database_url)
    config = Path(args.config) if args.config else _default_config()
    try:
        spec = load_config(config)
    except ConfigError as err:
        _print_config_error(err)
        return None
    return database_url(spec.server, default=DEFAULT_DATABASE_URL)[0]


def _db(args: argparse.Namespace) -> int:
    import anyio

    from troupe.store import StoreError, parse_database_url, upgrade_database

    url = database_url_of(args)
    if url is None:
        return 1
    try:
        where = parse_database_url(url).display
        revision = anyio.run(upgrade_database, url)
    except (ValueError, ModuleNotFoundError, StoreError) as err:
        print(f"troupe db: {err}", file=sys.stderr)
        return 1
    if revision is None:
        print(f"{where}: conversations are kept in memory; nothing to upgrade")
    else:
        print(f"{where}: schema at revision {revision} (latest)")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from troupe.chat import run_chat

    return run_chat(args.server, args.team, api_key=args.api_key, show_work=not args.quiet)


ADAPTERS = ("chainlit", "streamlit", "slack")


def _register_adapters(commands: Any) -> None:
    """Each adapter adds its subcommand from ``troupe.adapters.<name>._cli.register``.

    The ``_cli`` modules import nothing heavy, so ``troupe --help`` lists every
    adapter even when its extra is not installed; running it says what to install.
    """
    for name in ADAPTERS:
        try:
            module = importlib.import_module(f"troupe.adapters.{name}._cli")
        except ModuleNotFoundError as err:
            if err.name != f"troupe.adapters.{name}._cli" and err.name != f"troupe.adapters.{name}":
                raise
            continue
        module.register(commands)


class _Parser(argparse.ArgumentParser):
    """The ``troupe`` parser: the adapters' commands (and those after them) are added only
    when they may be asked for (``troupe serve`` need not import ``troupe.adapters``, whose
    package loads the ``openai`` SDK), and before any usage or error is printed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.more_commands: Any = None

    def add_more_commands(self) -> None:
        if self.more_commands is not None:
            commands, self.more_commands = self.more_commands, None
            _register_adapters(commands)
            _interop_cli.register(commands)

    def error(self, message: str) -> NoReturn:
        self.add_more_commands()
        super().error(message)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="troupe", description="Multi-agent teams behind an OpenAI-compatible API."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the teams of a config file")
    serve.add_argument(
        "--config",
        "-c",
        help="YAML config (default: $TROUPE_CONFIG, ./teams.yaml, or the bundled examples)",
    )
    serve.add_argument("--host", default=os.environ.get("TROUPE_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("TROUPE_PORT", "8000")))
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.add_argument(
        "--log-format",
        default=os.environ.get("TROUPE_LOG_FORMAT", "text"),
        choices=["text", "json"],
        help="json: one JSON object per line (default: $TROUPE_LOG_FORMAT or text)",
    )
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=False)
    serve.set_defaults(func=_serve)

    check = commands.add_parser("check", help="validate a config file and print every error")
    check.add_argument("config")
    check.add_argument(
        "--connect", action="store_true", help="also connect to each MCP server, list its tools"
    )
    check.set_defaults(func=_check)

    chat = commands.add_parser("chat", help="chat with a team in the terminal")
    chat.add_argument("team")
    chat.add_argument("--server", default=os.environ.get("TROUPE_SERVER", "http://127.0.0.1:8000"))
    chat.add_argument("--api-key", default=os.environ.get("TROUPE_API_KEY"))
    chat.add_argument(
        "--quiet", "-q", action="store_true", help="show only the answer, not the team's work"
    )
    chat.set_defaults(func=_chat)

    db = commands.add_parser("db", help="manage the conversation database")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser(
        "upgrade", help="migrate the schema to this version (also done by serve on start)"
    )
    upgrade.add_argument(
        "--config", "-c", help="YAML config whose server.database_url to use (as for serve)"
    )
    upgrade.add_argument(
        "--database-url", help="the database, instead of the config's or $TROUPE_DATABASE_URL"
    )
    upgrade.set_defaults(func=_db)

    from troupe._keys_cli import register as register_keys

    register_keys(commands)
    argv = sys.argv[1:] if argv is None else argv
    parser.more_commands = commands
    if not argv or argv[0] not in commands.choices:
        parser.add_more_commands()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
