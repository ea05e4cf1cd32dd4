"""The examples run: each app answers a chat completion through the openai SDK."""

from __future__ import annotations

import importlib

import httpx2
import openai
import pytest

from tests.asgi import ServedTransport

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("module", "prefix", "team"),
    [
        ("examples.python_team", "/v1", "editors"),
        ("examples.embed_litestar", "/agents/v1", "writers"),
        ("examples.mount_asgi", "/troupe/v1", "assistant"),
    ],
)
async def test_example_app_answers(
    module: str, prefix: str, team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = importlib.reload(importlib.import_module(module)).app
    transport = ServedTransport(app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://example.test") as http:
        home = await http.get("/")
        client = openai.AsyncOpenAI(
            base_url=f"http://example.test{prefix}", api_key="none", http_client=http
        )
        models = await client.models.list()
        assert team in [m.id for m in models.data]
        reply = await client.chat.completions.create(
            model=team, messages=[{"role": "user", "content": "What is 6*7?"}]
        )
    assert reply.choices[0].message.content
    if module != "examples.python_team":
        assert home.status_code == 200  # the host app's own route still works
