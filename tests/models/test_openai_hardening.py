"""``OpenAIModel``: troupe's retries, structured output, Azure, masked secrets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp.web as web
import msgspec
import pytest

from tests.fakes.openai_upstream import FakeOpenAIServer, Reply
from tests.models.conftest import FAST_RETRIES, MakeModel
from tests.models.helpers import ask, collect, consume, final
from troupe.errors import UpstreamError, UpstreamRateLimitError
from troupe.models import ModelStreamItem, OutputSchema, TextChunk
from troupe.models.openai import OpenAIModel

pytestmark = pytest.mark.anyio


async def test_sends_structured_output_as_a_json_schema_response_format(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    output = OutputSchema(schema=schema, name="place", description="Where.")

    await collect(make_model(), ask(output_schema=output))

    assert fake.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "place", "schema": schema, "strict": True, "description": "Where."},
    }


async def test_a_rate_limit_waits_what_the_server_asks(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(status=429, error="slow down", retry_after_ms=300), Reply(text="ok"))
    started = time.monotonic()

    response = final(await collect(make_model(retry=FAST_RETRIES), ask()))

    assert response.content == "ok"
    assert time.monotonic() - started >= 0.3  # not the 10 ms backoff of FAST_RETRIES
    assert fake.stats.requests == 2


async def test_a_wait_longer_than_worth_it_is_passed_on_as_a_429(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(status=429, error="quota", retry_after_ms=120_000))

    with pytest.raises(UpstreamRateLimitError, match=r"quota \(retry after 120s\)"):
        await collect(make_model(retry=FAST_RETRIES), ask())
    assert fake.stats.requests == 1


async def test_an_answer_that_has_started_is_never_replayed(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(text="a b c d", error_after=3, error="boom"), Reply(text="replayed"))
    seen: list[ModelStreamItem] = []

    with pytest.raises(UpstreamError, match="failed mid-stream: boom"):
        await consume(make_model(retry=FAST_RETRIES).stream(ask()), seen)

    # What went out before the failure (joined where it arrived in one read).
    assert "".join(i.text for i in seen if isinstance(i, TextChunk)) == "a b "
    assert fake.stats.requests == 1


async def test_a_failure_before_any_content_is_retried(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(text="lost", disconnect_after=1), Reply(text="second"))

    assert final(await collect(make_model(retry=FAST_RETRIES), ask())).content == "second"
    assert fake.stats.requests == 2


async def test_a_timeout_is_retried(make_model: MakeModel, fake: FakeOpenAIServer) -> None:
    fake.script(Reply(hang=True), Reply(text="awake"))

    response = final(await collect(make_model(timeout=0.3, retry=FAST_RETRIES), ask()))

    assert response.content == "awake"
    assert fake.stats.requests == 2


async def test_client_errors_are_not_retried(make_model: MakeModel, fake: FakeOpenAIServer) -> None:
    fake.script(Reply(status=400, error="bad request", error_type="invalid_request_error"))

    with pytest.raises(UpstreamError, match="HTTP 400: bad request"):
        await collect(make_model(retry=FAST_RETRIES), ask())
    assert fake.stats.requests == 1


async def test_the_key_never_appears_in_an_error(
    make_model: MakeModel, fake: FakeOpenAIServer
) -> None:
    fake.script(Reply(status=401, error="Incorrect API key provided: sk-live-abcdef123"))

    with pytest.raises(UpstreamError) as err:
        await collect(make_model(api_key="sk-live-abcdef123"), ask())

    assert "sk-live-abcdef123" not in str(err.value)
    assert "Incorrect API key provided: ***" in str(err.value)


def test_knows_what_a_model_family_can_do() -> None:
    assert OpenAIModel("gpt-4o-mini", api_key="k").capabilities.vision
    old = OpenAIModel("gpt-3.5-turbo", api_key="k").capabilities
    assert (old.vision, old.structured_output, old.tools) == (False, False, True)


def test_base_url_query_stays_out_of_messages() -> None:
    # Credentials in the URL itself are refused at build time (tests/server/test_upstream_errors.py).
    model = OpenAIModel("m", api_key="k", base_url="https://gateway.example/v1?key=s")
    assert "gateway.example/v1" in model._upstream.where
    assert "key=s" not in model._upstream.where


# --- Azure OpenAI ---


class AzureServer:
    """Just enough of Azure OpenAI: the deployment in the path, the version in the query."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.url = ""

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            {
                "path": request.path,
                "query": dict(request.query),
                "api-key": request.headers.get("api-key"),
                "body": await request.json(),
            }
        )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for delta, finish in (({"content": "from azure"}, None), ({}, "stop")):
            chunk = {"model": "gpt-4o", "choices": [{"index": 0, "delta": delta,
                                                      "finish_reason": finish}]}  # fmt: skip
            await response.write(b"data: " + msgspec.json.encode(chunk) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        return response


@pytest.fixture
async def azure() -> AsyncIterator[AzureServer]:
    server = AzureServer()
    app = web.Application()
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", server.chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield server
    await runner.cleanup()


async def test_azure_openai_through_config_fields(azure: AzureServer) -> None:
    model = OpenAIModel(
        "gpt-4o",
        base_url=azure.url,
        api_key="azure-key-123",
        api_version="2024-10-21",
        azure_deployment="prod-4o",
        max_retries=0,
    )
    try:
        response = final(await collect(model, ask()))
    finally:
        await model.aclose()

    assert response.content == "from azure"
    seen = azure.seen[0]
    assert seen["path"] == "/openai/deployments/prod-4o/chat/completions"
    assert seen["query"] == {"api-version": "2024-10-21"}
    assert seen["api-key"] == "azure-key-123"
    assert model.provider == "azure"


def test_azure_needs_an_endpoint_and_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    model = OpenAIModel("gpt-4o", base_url="https://x.openai.azure.com", api_version="2024-10-21")
    assert model.needs_api_key
    assert model.azure_deployment == "gpt-4o"
