"""troupe mounted in another ASGI framework (Starlette here; FastAPI's `app.mount` is the same).

    uv run uvicorn examples.mount_asgi:app --port 8000

OpenAI clients use base_url="http://127.0.0.1:8000/troupe/v1".
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from troupe import create_app
from troupe.examples import BUNDLED_CONFIG


async def home(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "from starlette"})


troupe_app = create_app(BUNDLED_CONFIG)
app = Starlette(routes=[Route("/", home), Mount("/troupe", app=troupe_app)])
