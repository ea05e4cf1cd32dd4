from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import httpx2
import openai
import pytest
from litestar import Litestar

from tests.asgi import Served
from troupe.server import create_app
from troupe.teams import Team

AppFactory = Callable[..., Litestar]


@pytest.fixture
def make_client(served: Served) -> Callable[..., Awaitable[openai.AsyncOpenAI]]:
    """``await make_client(app)``: the openai SDK on the app, its lifespan entered."""
    return served.openai


@pytest.fixture
def raw_client(served: Served) -> Callable[[Litestar], Awaitable[httpx2.AsyncClient]]:
    """``await raw_client(app)``: an HTTP client on the app, its lifespan entered."""
    return served.http


def app_for(*teams: Team, api_keys: Sequence[str] = ()) -> Litestar:
    return create_app(teams=teams, api_keys=api_keys)
