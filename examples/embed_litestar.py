"""troupe's routes inside your own Litestar app, under a path prefix.

    uv run uvicorn examples.embed_litestar:app --port 8000

Your routes keep their own behaviour; troupe's live under /agents/v1, so an
OpenAI client uses base_url="http://127.0.0.1:8000/agents/v1".
"""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, get

from troupe import TroupePlugin
from troupe.examples import BUNDLED_CONFIG

CONFIG = Path(__file__).with_name("teams.yaml")


@get("/")
async def index() -> dict[str, str]:
    return {"app": "my app", "agents": "/agents/v1/models"}


troupe = TroupePlugin.from_config(CONFIG if CONFIG.exists() else BUNDLED_CONFIG, path="/agents/v1")
app = Litestar(route_handlers=[index], plugins=[troupe])
