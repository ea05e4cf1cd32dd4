"""troupe mounted in another ASGI framework (Starlette here; FastAPI's `app.mount` is the same).

    uv run uvicorn examples.mount_asgi:app --port 8000

OpenAI clients use base_url="http://127.0.0.1:8000/troupe/v1".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from troupe import create_app
from troupe.examples import BUNDLED_CONFIG


async def home(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "from starlette"})


troupe_app = create_app(BUNDLED_CONFIG)


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    # A mounted app's lifespan is its host's to run: troupe's runs, its store and its
    # run manager live in it.
    async with troupe_app.lifespan():
        yield


app = Starlette(routes=[Route("/", home), Mount("/troupe", app=troupe_app)], lifespan=lifespan)
