"""``troupe chainlit``: the Chainlit app for a troupe server's teams.

This module imports nothing heavy, so ``troupe --help`` stays fast and lists
the command even when Chainlit is not installed.
"""

from __future__ import annotations

__all__ = ["register"]

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

APP = Path(__file__).with_name("app.py")
WELCOME = """# troupe

Each chat profile is a team on the troupe server. Pick one and write a message:
its agents answer, and their tool calls show as steps you can open.
"""


def default_app_root() -> Path:
    """Where Chainlit keeps .chainlit/, .files/ and chainlit.md without ``--app-root``:
    the user's cache, not the directory they happen to start troupe from."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "troupe" / "chainlit"


def register(commands: Any) -> None:
    """Add the ``chainlit`` subcommand to the ``troupe`` command."""
    parser = commands.add_parser(
        "chainlit",
        help="chat with the server's teams in a Chainlit web app",
        description="Run a Chainlit app in which every team on a troupe server is a chat profile.",
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("TROUPE_SERVER", "http://127.0.0.1:8000"),
        help="the troupe server (default: $TROUPE_SERVER or http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("TROUPE_API_KEY"),
        help="the server's API key (default: $TROUPE_API_KEY)",
    )
    parser.add_argument("--team", help="offer only this team (no chat profiles)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument(
        "--app-root",
        help="Chainlit's app directory: .chainlit/config.toml, chainlit.md, public/ "
        "(default: troupe/chainlit in the user's cache directory, never the working directory)",
    )
    parser.add_argument("--open", action="store_true", help="open the app in a browser")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("chainlit") is None:
        print(
            'troupe chainlit needs Chainlit: pip install "troupe-server[chainlit]" '
            "(from a clone: uv run --extra chainlit troupe chainlit ...)",
            file=sys.stderr,
        )
        return 2
    root = Path(args.app_root).resolve() if args.app_root else default_app_root()
    root.mkdir(parents=True, exist_ok=True)
    welcome = root / "chainlit.md"
    if not welcome.exists():  # else Chainlit writes its own "Welcome to Chainlit!"
        welcome.write_text(WELCOME)
    # Chainlit reads its app root when it is imported, and the app reads the rest.
    os.environ["CHAINLIT_APP_ROOT"] = str(root)
    os.environ["TROUPE_SERVER"] = args.server
    for name, value in (("TROUPE_API_KEY", args.api_key), ("TROUPE_TEAM", args.team)):
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)
    import logging

    from chainlit.cli import cli

    # The HTTP clients log each request to the troupe server at INFO: noise.
    for noisy in ("httpx", "httpx2", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    argv = ["run", str(APP), "--host", args.host, "--port", str(args.port)]
    if not args.open:
        argv.append("--headless")
    print(
        f"troupe: Chainlit app for {args.server} on http://{args.host}:{args.port}",
        file=sys.stderr,
    )
    cli.main(args=argv, prog_name="troupe chainlit", standalone_mode=False)
    return 0
