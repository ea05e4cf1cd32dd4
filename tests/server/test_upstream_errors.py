"""What API clients learn of a failing provider: who failed and why, never where nor with which key.

The endpoint (an internal ``base_url``) and the key stay in the server's log,
where the operator needs them; the client gets the agent, provider, model
and the provider's status.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAIServer, Reply
from tests.server.conftest import app_for
from troupe.agents import AssistantAgent
from troupe.config import load_teams
from troupe.errors import ConfigError
from troupe.models.anthropic import AnthropicModel
from troupe.models.ollama import OllamaModel
from troupe.models.openai import OpenAIModel
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio

KEY = "sk-proj-Secret0123456789abcdef"


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
async def model(upstream: FakeOpenAIServer) -> AsyncIterator[OpenAIModel]:
    model = OpenAIModel("fake-model", base_url=upstream.base_url, api_key=KEY, max_retries=0)
    yield model
    await model.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_client_sees_who_failed_not_where_nor_the_key(
    make_client: Any,
    upstream: FakeOpenAIServer,
    model: OpenAIModel,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
) -> None:
    # Like OpenAI's own 401, the provider echoes the key it was given.
    upstream.script(Reply(status=401, error=f"Incorrect API key provided: {KEY}"))
    client = await make_client(app_for(RoundRobinTeam("t", [AssistantAgent("bot", model)])))
    with caplog.at_level(logging.WARNING), pytest.raises(openai.APIError) as caught:
        answer = await client.chat.completions.create(
            model="t", messages=[{"role": "user", "content": "hi"}], stream=stream
        )
        if stream:
            async for _ in answer:  # type: ignore[union-attr]
                pass
    message = caught.value.message
    assert "agent 'bot'" in message and "openai model 'fake-model'" in message
    assert "HTTP 401" in message
    assert upstream.base_url not in message and "127.0.0.1" not in message
    assert KEY not in message and "Secret0123" not in message
    # The operator's log has the endpoint; not the key either.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"at {upstream.base_url}: HTTP 401" in logged
    assert "Secret0123" not in logged


@pytest.mark.parametrize(
    "make",
    [
        lambda url: OpenAIModel("m", base_url=url, api_key="k", max_retries=0),
        lambda url: AnthropicModel("m", base_url=url, api_key="k", max_retries=0),
        lambda url: OllamaModel("m", base_url=url, max_retries=0),
    ],
    ids=["openai", "anthropic", "ollama"],
)
async def test_a_refused_connection_does_not_show_clients_the_address(
    make_client: Any, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A port nothing listens on (bound, then closed).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = make(f"http://127.0.0.1:{port}/v1")
    client = await make_client(app_for(RoundRobinTeam("t", [AssistantAgent("bot", model)])))
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(openai.APIError) as caught:
            await client.chat.completions.create(
                model="t", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        await model.aclose()
    message = caught.value.message
    assert "cannot connect" in message
    assert str(port) not in message and "127.0.0.1" not in message
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"127.0.0.1:{port}" in logged


@pytest.mark.parametrize(
    "make",
    [
        lambda url: OpenAIModel("m", base_url=url, api_key="k"),
        lambda url: AnthropicModel("m", base_url=url, api_key="k"),
        lambda url: OllamaModel("m", base_url=url),
    ],
    ids=["openai", "anthropic", "ollama"],
)
def test_a_base_url_with_credentials_is_a_config_error(make: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        make("http://bob:hunter2@10.0.0.5:8101/v1")
    issue = caught.value.issues[0]
    assert issue.path == "$.base_url"
    assert "credentials" in issue.message and "hunter2" not in issue.message


def test_troupe_check_names_the_path_of_a_base_url_with_credentials(tmp_path: Path) -> None:
    config = tmp_path / "teams.yaml"
    config.write_text(
        "models:\n"
        '  m: {provider: openai, model: x, base_url: "http://bob:hunter2@10.0.0.5/v1", api_key: k}\n'
        "teams:\n  t:\n    agents: [{name: bot, model: m}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_teams(config)
    assert [issue.path for issue in caught.value.issues] == ["$.models.m.base_url"]
    assert "hunter2" not in str(caught.value)


def test_a_base_url_that_is_not_http_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        OpenAIModel("m", base_url="localhost:8000/v1", api_key="k")
    assert caught.value.issues[0].path == "$.base_url"
