"""``troupe slack``: run a team as a Slack bot. Imports nothing heavy until it runs."""

from __future__ import annotations

__all__ = ["register"]

import argparse
import logging
import os
import sys
from typing import Any


def register(commands: Any) -> None:
    """Add the ``slack`` subcommand to ``troupe``'s subparsers."""
    parser = commands.add_parser(
        "slack",
        help="run a team as a Slack bot (HTTP events, or Socket Mode with SLACK_APP_TOKEN)",
        description=(
            "Serve Slack's events, commands and interactivity at --path (HTTP mode: needs "
            "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET), or connect over Socket Mode when "
            "SLACK_APP_TOKEN is set. SLACK_API_URL points the bot at another Slack Web API."
        ),
    )
    parser.add_argument(
        "--server", default=os.environ.get("TROUPE_SERVER", "http://127.0.0.1:8000")
    )
    parser.add_argument("--api-key", default=os.environ.get("TROUPE_API_KEY"))
    parser.add_argument(
        "--team",
        default=os.environ.get("TROUPE_SLACK_TEAM"),
        help="the team that answers by default ($TROUPE_SLACK_TEAM)",
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="CHANNEL_ID=TEAM",
        help="a channel that talks to another team (repeatable; $TROUPE_SLACK_CHANNELS)",
    )
    parser.add_argument("--host", default=os.environ.get("TROUPE_SLACK_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("TROUPE_SLACK_PORT", "3000"))
    )
    parser.add_argument("--path", default="/slack/events", help="where Slack posts (HTTP mode)")
    parser.add_argument(
        "--command", default="/troupe", help="the slash command that chooses a channel's team"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        from troupe.adapters.slack._app import SlackAdapter
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] not in ("slack_bolt", "slack_sdk"):
            raise
        print(
            'troupe slack needs the Slack extra: pip install "troupe-server[slack]" '
            "(from a clone: uv run --extra slack troupe slack ...)",
            file=sys.stderr,
        )
        return 1
    from troupe.adapters.slack._settings import SlackSettings, parse_channel_teams

    try:
        settings = SlackSettings.from_env(
            server_url=args.server,
            team=args.team,
            api_key=args.api_key,
            channel_teams=parse_channel_teams(args.channel) if args.channel else None,
            path=args.path,
            command=args.command,
        )
    except ValueError as err:
        print(f"troupe slack: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpx2", "openai"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    adapter = SlackAdapter(settings)
    where = f"team {settings.team!r} of {settings.server_url}"
    if settings.app_token:
        import anyio

        print(f"troupe slack: Socket Mode, {where}", file=sys.stderr)
        anyio.run(adapter.serve_socket_mode)
        return 0
    import uvicorn

    url = f"http://{args.host}:{args.port}{settings.path}"
    print(f"troupe slack: Slack events at {url}, {where}", file=sys.stderr)
    uvicorn.run(
        adapter.asgi_app(),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.grace_seconds),
    )
    return 0
