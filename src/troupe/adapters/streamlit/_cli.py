"""``troupe streamlit``: the ready chat app, served by ``streamlit run``.

This module imports nothing heavy: ``troupe --help`` lists the command even
without the ``streamlit`` extra, and running it then says what to
install. The server URL and API key reach the app as ``TROUPE_SERVER`` and
``TROUPE_API_KEY`` in its environment (not on its command line, where other
users of the machine could read the key).
"""

from __future__ import annotations

__all__ = ["APP", "register", "streamlit_command"]

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

APP = Path(__file__).with_name("app.py")


def register(commands: Any) -> None:
    """Add the ``streamlit`` subcommand to the ``troupe`` command's subparsers."""
    parser = commands.add_parser(
        "streamlit",
        help="open a chat app for a troupe server's teams in the browser",
        description="Serve the ready Streamlit chat app for the teams of a troupe server.",
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("TROUPE_SERVER", "http://127.0.0.1:8000"),
        help="the troupe server's URL (default: $TROUPE_SERVER or http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("TROUPE_API_KEY"),
        help="an API key the server accepts (default: $TROUPE_API_KEY)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve the app on")
    parser.add_argument("--port", type=int, default=8020, help="port to serve the app on")
    parser.set_defaults(func=_run)


def streamlit_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The ``streamlit run`` command line and environment for ``args``."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]
    env = {**os.environ, "TROUPE_SERVER": args.server}
    env.pop("TROUPE_API_KEY", None)
    if args.api_key:
        env["TROUPE_API_KEY"] = args.api_key
    return command, env


def _run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("streamlit") is None:
        print(
            'troupe streamlit needs Streamlit: pip install "troupe-server[streamlit]" '
            "(from a clone: uv run --extra streamlit troupe streamlit ...)",
            file=sys.stderr,
        )
        return 1
    command, env = streamlit_command(args)
    print(
        f"troupe: the chat app for {args.server} is on http://{args.host}:{args.port}",
        file=sys.stderr,
    )
    if os.name == "posix":
        # Become the Streamlit process, so signals (Ctrl-C, a supervisor's stop) reach it.
        os.execve(command[0], command, env)
    return subprocess.call(command, env=env)
