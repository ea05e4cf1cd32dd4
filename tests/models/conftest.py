from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropicServer
from tests.fakes.ollama_upstream import FakeOllamaServer
from tests.fakes.openai_upstream import FakeOpenAIServer
from troupe.models import RetryPolicy
from troupe.models.anthropic import AnthropicModel
from troupe.models.ollama import OllamaModel
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


# --- Anthropic and Ollama: the same, against their fakes ---


@pytest.fixture
async def anthropic_fake() -> AsyncIterator[FakeAnthropicServer]:
    async with FakeAnthropicServer() as server:
        yield server


MakeAnthropic = Callable[..., AnthropicModel]


@pytest.fixture(params=["aiohttp", "httpx"])
async def make_anthropic(
    request: pytest.FixtureRequest, anthropic_fake: FakeAnthropicServer
) -> AsyncIterator[MakeAnthropic]:
    """Builds ``AnthropicModel``s pointed at the fake, over each transport; no retries by default."""
    models: list[AnthropicModel] = []
    clients: list[Any] = []

    def make(model: str = "claude-sonnet-4-5", **kwargs: Any) -> AnthropicModel:
        kwargs.setdefault("base_url", anthropic_fake.base_url)
        kwargs.setdefault("api_key", "sk-ant-test-key")
        kwargs.setdefault("max_retries", 0)
        if request.param == "httpx" and "http_client" not in kwargs:
            kwargs["http_client"] = anthropic.DefaultAsyncHttpxClient()
            clients.append(kwargs["http_client"])
        models.append(AnthropicModel(model, **kwargs))
        return models[-1]

    yield make
    for m in models:
        await m.aclose()
    for client in clients:
        await client.aclose()


@pytest.fixture
async def ollama_fake() -> AsyncIterator[FakeOllamaServer]:
    async with FakeOllamaServer() as server:
        yield server


MakeOllama = Callable[..., OllamaModel]


@pytest.fixture
async def make_ollama(ollama_fake: FakeOllamaServer) -> AsyncIterator[MakeOllama]:
    """Builds ``OllamaModel``s pointed at the fake; no retries by default."""
    models: list[OllamaModel] = []

    def make(model: str = "llama3.2", **kwargs: Any) -> OllamaModel:
        kwargs.setdefault("base_url", ollama_fake.base_url)
        kwargs.setdefault("max_retries", 0)
        models.append(OllamaModel(model, **kwargs))
        return models[-1]

    yield make
    for m in models:
        await m.aclose()


FAST_RETRIES = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.05)
