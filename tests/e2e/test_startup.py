"""What starting troupe prints, and that it writes nothing where it is started."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, start, stop

pytestmark = pytest.mark.e2e
_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "TROUPE_CONFIG", "TROUPE_API_KEYS", "TROUPE_DATABASE_URL")
    }
    return env | extra


def test_serve_prints_one_line_per_thing_to_know(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    proc = start(
        [sys.executable, "-m", "troupe.cli", "serve", "--port", str(port)],
        f"http://127.0.0.1:{port}/health",
        _env(),
        cwd=tmp_path,
        replace_env=True,
    )
    lines = [_STAMP.sub("", line) for line in stop(proc).splitlines()]
    config = Path(sys.modules["troupe"].__file__ or "").parent / "examples" / "teams.yaml"
    database = tmp_path.resolve() / ".troupe" / "troupe.db"
    assert lines[0] == (
        "WARNING troupe.config: model 'main' has no API key: using the offline demo model"
    )
    assert lines[1] == f"INFO troupe: API keys off: anyone who can reach {url} can use the teams"
    assert re.fullmatch(
        rf"INFO troupe.store: conversations in sqlite:///{re.escape(str(database))} "
        r"\(schema revision \w+\)",
        lines[2],
    )
    assert lines[3] == f"INFO troupe: serving assistant, writers (from {config}) on {url}"
    assert lines[4] == f"INFO troupe: studio: http://127.0.0.1:{port}/studio"
    # No Alembic steps, no Uvicorn chatter; on SIGTERM (the test's stop), one line says so.
    assert lines[5:] == [
        "INFO troupe.server: shutting down: no new runs; waiting for the runs in progress"
    ], lines


def test_serve_says_when_keys_are_on_and_conversations_are_in_memory(tmp_path: Path) -> None:
    port = free_port()
    proc = start(
        [sys.executable, "-m", "troupe.cli", "serve", "--port", str(port)],
        f"http://127.0.0.1:{port}/health",
        _env(TROUPE_API_KEYS="sk-1", TROUPE_DATABASE_URL="memory"),
        cwd=tmp_path,
        replace_env=True,
    )
    lines = [_STAMP.sub("", line) for line in stop(proc).splitlines()]
    assert any("API keys required" in line for line in lines), lines
    assert "INFO troupe: conversations in memory: they end with the process" in lines
    assert not any("API keys off" in line for line in lines)
    assert list(tmp_path.iterdir()) == []


def test_the_chainlit_app_writes_nothing_where_it_is_started(tmp_path: Path) -> None:
    if importlib.util.find_spec("chainlit") is None:  # importing it would write here
        pytest.skip("needs the chainlit extra; runs with it (scripts/test installs every extra)")
    here, cache = tmp_path / "here", tmp_path / "cache"
    here.mkdir()
    port = free_port()
    proc = start(
        [sys.executable, "-m", "troupe.cli", "chainlit", "--port", str(port)],
        f"http://127.0.0.1:{port}/",
        _env(XDG_CACHE_HOME=str(cache), TROUPE_SERVER="http://127.0.0.1:9"),
        cwd=here,
        replace_env=True,
    )
    stop(proc)
    assert list(here.iterdir()) == []
    assert (cache / "troupe" / "chainlit" / "chainlit.md").read_text().startswith("# troupe")
