"""``troupe serve`` of a config file, as a real process on a free port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import free_port, start


def serve(config: Path, env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    """The server's URL and process, once it answers."""
    port = free_port()
    proc = start(
        [sys.executable, "-m", "troupe.cli", "serve", "--config", str(config), "--port", str(port)],
        f"http://127.0.0.1:{port}/health/live",
        env=env,
        cwd=config.parent,
    )
    return f"http://127.0.0.1:{port}", proc
