"""Bad input, bad keys and failing models: OpenAI-shaped errors, and the server keeps serving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from tests.server.conftest import app_for
from tests.spec import validate
from tests.sse import assert_numbered, sse_frames
from troupe.agents import AssistantAgent
from troupe.errors import UpstreamError
from troupe.models import ModelRequest, ModelResponse, ModelStreamItem, ScriptedModel, TextChunk
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio


def echo_team(name: str = "echo") -> RoundRobinTeam:
    return RoundRobinTeam(name, [AssistantAgent("bot", ScriptedModel(["hi there"] * 20))])


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    validate(body, "ErrorResponse")
    if code is not None:
        assert body["error"]["code"] == code
    return dict(body["error"])


BAD_BODIES = [
    pytest.param(b"{not json", 400, None, id="malformed-json"),
    pytest.param(b"", 400, None, id="empty-body"),
    pytest.param(b'{"model": "echo"}', 400, None, id="missing-messages"),
    pytest.param(b'{"model": "echo", "messages": []}', 400, None, id="empty-messages"),
    pytest.param(b'{"model": "echo", "messages": "hi"}', 400, None, id="messages-wrong-type"),
    pytest.param(
        b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}',
        400,
        None,
        id="model-wrong-type",
    ),
    pytest.param(
        b'{"model": "echo", "messages": [{"role": "wizard", "content": "x"}]}',
        400,
        None,
        id="bad-role",
    ),
    pytest.param(
        b'{"model": "echo", "messages": [{"role": "user", "content": "x"}], "n": 2}',
        400,
        "unsupported_value",
        id="n-2",
    ),
    pytest.param(
        b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}',
        404,
        "model_not_found",
        id="unknown-model",
    ),
    pytest.param(
        b'{"model": "echo", "messages": [{"role": "assistant", "content": "x"}]}',
        400,
        None,
        id="no-user-message",
    ),
    pytest.param(b"[1, 2]", 400, None, id="array-body"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_BODIES)
async def test_bad_requests_get_openai_errors(
    raw_client: Any, body: bytes, status: int, code: str | None
) -> None:
    client = await raw_client(app_for(echo_team()))
    response = await client.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert_error(response, status, code)
    ok = await client.post(
        "/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "x"}]},
    )
    assert ok.status_code == 200


async def test_error_names_the_field(raw_client: Any) -> None:
    client = await raw_client(app_for(echo_team()))
    response = await client.post(
        "/v1/chat/completions", json={"model": "echo", "messages": [{"role": "user", "content": 5}]}
    )
    error = assert_error(response, 400)
    assert error["param"] == "messages[0].content"


async def test_ten_megabyte_body_is_413(raw_client: Any) -> None:
    client = await raw_client(app_for(echo_team()))
    huge = (
        b'{"model": "echo", "messages": [{"role": "user", "content": "'
        + b"x" * (10 * 1024 * 1024)
        + b'"}]}'
    )
    response = await client.post(
        "/v1/chat/completions", content=huge, headers={"content-type": "application/json"}
    )
    assert_error(response, 413)
    ok = await client.post(
        "/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "x"}]},
    )
    assert ok.status_code == 200


async def test_unknown_path_and_method(raw_client: Any) -> None:
    client = await raw_client(app_for(echo_team()))
    assert_error(await client.get("/v1/nothing-here"), 404)
    assert_error(await client.get("/v1/chat/completions"), 405)


async def test_api_keys(make_client: Any, raw_client: Any) -> None:
    app = app_for(echo_team(), api_keys=["sk-right-key"])
    with pytest.raises(openai.AuthenticationError) as caught:
        await (await make_client(app, "sk-wrong-key")).models.list()
    assert caught.value.status_code == 401
    assert "Incorrect API key" in caught.value.message
    missing = await (await raw_client(app)).get("/v1/models")
    assert_error(missing, 401, "invalid_api_key")
    assert missing.headers["www-authenticate"] == "Bearer"
    models = await (await make_client(app, "sk-right-key")).models.list()
    assert [m.id for m in models.data] == ["echo"]
    by_header = await (await raw_client(app)).get(
        "/v1/models", headers={"x-api-key": "sk-right-key"}
    )
    assert by_header.status_code == 200
    health = await (await raw_client(app)).get("/health")
    assert health.status_code == 200  # health needs no key


class FailingModel:
    """Streams some text, then the provider fails."""

    provider = "fake"
    model_name = "flaky-1"

    def __init__(self) -> None:
        self.calls = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamItem]:
        self.calls += 1
        if self.calls == 1:
            yield TextChunk("partial ")
            raise UpstreamError("fake said 500: boom", provider="fake", model="flaky-1")
        yield TextChunk("recovered")
        yield ModelResponse(content="recovered")


async def test_upstream_failure_mid_stream_then_next_request_works(make_client: Any) -> None:
    team = RoundRobinTeam("flaky", [AssistantAgent("bot", FailingModel())])
    client = await make_client(app_for(team))
    stream = await client.chat.completions.create(
        model="flaky", messages=[{"role": "user", "content": "x"}], stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            received.append(chunk)
    assert "agent 'bot'" in caught.value.message and "boom" in caught.value.message
    assert any(c.choices and c.choices[0].delta.content == "partial " for c in received)
    again = await client.chat.completions.create(
        model="flaky", messages=[{"role": "user", "content": "x"}]
    )
    assert again.choices[0].message.content == "recovered"


async def test_upstream_failure_raw_stream_ends_cleanly(raw_client: Any) -> None:
    team = RoundRobinTeam("flaky", [AssistantAgent("bot", FailingModel())])
    client = await raw_client(app_for(team))
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "flaky", "messages": [{"role": "user", "content": "x"}], "stream": True},
    )
    assert response.status_code == 200
    frames = sse_frames(response.text)
    assert_numbered(frames)
    assert frames[-1].data == "[DONE]"
    error_frames = [f.data for f in frames if '"error":' in f.data]
    assert len(error_frames) == 1
    assert '"troupe":{"type":"error"' in error_frames[0]
    assert '"code":"upstream_error"' in error_frames[0]


async def test_upstream_failure_non_stream_is_502(raw_client: Any) -> None:
    team = RoundRobinTeam("flaky", [AssistantAgent("bot", FailingModel())])
    client = await raw_client(app_for(team))
    body = {"model": "flaky", "messages": [{"role": "user", "content": "x"}]}
    error = assert_error(
        await client.post("/v1/chat/completions", json=body), 502, "upstream_error"
    )
    assert "flaky-1" not in error["message"] or "fake" in error["message"]
    assert (await client.post("/v1/chat/completions", json=body)).status_code == 200


async def test_images_to_a_team_whose_model_cannot_see_are_a_clear_400(raw_client: Any) -> None:
    from troupe.models import ModelCapabilities

    blind = ScriptedModel(["ok"] * 3, capabilities=ModelCapabilities(vision=False))
    team = RoundRobinTeam("blind", [AssistantAgent("bot", blind)])
    client = await raw_client(app_for(team))
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    body = {
        "model": "blind",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "what is this?"}, image]}
        ],
    }
    error = assert_error(await client.post("/v1/chat/completions", json=body), 400)
    assert (
        error["message"].startswith("team 'blind' cannot take images:")
        and error["param"] == "messages"
    )
    sighted = RoundRobinTeam("eyes", [AssistantAgent("bot", ScriptedModel(["a cat"]))])
    ok = await (await raw_client(app_for(sighted))).post(
        "/v1/chat/completions", json={**body, "model": "eyes"}
    )
    assert ok.status_code == 200
