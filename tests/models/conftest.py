from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAIServer
from troupe.models.openai import OpenAIModel


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as server:
        yield server


MakeModel = Callable[..., OpenAIModel]


@pytest.fixture(params=["aiohttp", "httpx"])
async def make_model(
    request: pytest.FixtureRequest, fake: FakeOpenAIServer
) -> AsyncIterator[MakeModel]:
    """Builds ``OpenAIModel``s pointed at ``fake``, over each HTTP transport the SDK offers.

    Retries are off unless a test asks for them, so a scripted error is the answer.
    """
    models: list[OpenAIModel] = []
    clients: list[Any] = []

    def make(model: str = "gpt-test", **kwargs: Any) -> OpenAIModel:
        kwargs.setdefault("base_url", fake.base_url)
        kwargs.setdefault("api_key", "sk-test")
        kwargs.setdefault("max_retries", 0)
        if request.param == "httpx" and "http_client" not in kwargs:
            kwargs["http_client"] = openai.DefaultAsyncHttpxClient()
            clients.append(kwargs["http_client"])
        models.append(OpenAIModel(model, **kwargs))
        return models[-1]

    yield make
    for m in models:
        await m.aclose()
    for client in clients:
        await client.aclose()
