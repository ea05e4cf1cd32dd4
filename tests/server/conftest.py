from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import httpx2
import openai
import pytest
from litestar import Litestar

from troupe.server import create_app
from troupe.teams import Team

AppFactory = Callable[..., Litestar]


@pytest.fixture
def make_client() -> Callable[[Litestar, str | None], openai.AsyncOpenAI]:
    def make(app: Litestar, api_key: str | None = "test-key") -> openai.AsyncOpenAI:
        transport = httpx2.ASGITransport(app=app)
        http = httpx2.AsyncClient(transport=transport, base_url="http://troupe.test")
        return openai.AsyncOpenAI(
            base_url="http://troupe.test/v1",
            api_key=api_key or "none",
            http_client=http,
            max_retries=0,
        )

    return make


@pytest.fixture
async def raw_client() -> AsyncIterator[Callable[[Litestar], httpx2.AsyncClient]]:
    clients: list[httpx2.AsyncClient] = []

    def make(app: Litestar) -> httpx2.AsyncClient:
        client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://troupe.test"
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def app_for(*teams: Team, api_keys: Sequence[str] = ()) -> Litestar:
    return create_app(teams=teams, api_keys=api_keys)
