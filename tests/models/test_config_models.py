"""``models:`` in config: every provider, its settings, and every mistake with its path."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropicServer
from tests.fakes.ollama_upstream import FakeOllamaServer
from tests.models.helpers import ask, collect, final
from troupe.config import build_teams, read_config
from troupe.config.models import ModelSpec, build_model
from troupe.errors import ConfigError
from troupe.models import DemoModel, FallbackModel, ModelCapabilities
from troupe.models.anthropic import AnthropicModel
from troupe.models.ollama import OllamaModel
from troupe.models.openai import OpenAIModel


def spec(**fields: Any) -> ModelSpec:
    return msgspec.convert(fields, ModelSpec)


def issues(name: str, fields: dict[str, Any], models: dict[str, Any] | None = None) -> list[str]:
    specs = {k: spec(**v) for k, v in (models or {}).items()}
    with pytest.raises(ConfigError) as caught:
        build_model(name, spec(**fields), models=specs)
    return [str(issue) for issue in caught.value.issues]


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                "AZURE_OPENAI_API_KEY", "OLLAMA_HOST"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)


def test_each_provider_becomes_its_model() -> None:
    openai = build_model(
        "a", spec(provider="openai", model="gpt-4o", api_key="sk-1", temperature=0.2)
    )
    claude = build_model(
        "b", spec(provider="anthropic", model="claude-sonnet-4-5", api_key="k", thinking=2048)
    )
    local = build_model(
        "c",
        spec(provider="ollama", model="qwen3", options={"num_ctx": 16384}, keep_alive="10m",
             thinking="high", max_tokens=100),
    )  # fmt: skip

    assert isinstance(openai, OpenAIModel) and openai.settings == {"temperature": 0.2}
    assert isinstance(claude, AnthropicModel)
    assert claude.thinking == {"type": "enabled", "budget_tokens": 2048}
    assert isinstance(local, OllamaModel)
    assert local.options == {"num_predict": 100, "num_ctx": 16384}
    assert (local.keep_alive, local.think, local.timeout) == ("10m", "high", 300.0)
    assert local.capabilities.context_window == 16384  # what Ollama will keep


def test_openai_thinking_is_the_reasoning_effort() -> None:
    model = build_model("o", spec(provider="openai", model="o3", api_key="k", thinking="high"))
    assert isinstance(model, OpenAIModel) and model.settings["reasoning_effort"] == "high"


def test_capabilities_in_config_override_the_family_defaults() -> None:
    model = build_model(
        "m",
        spec(
            provider="ollama", model="llama3", capabilities={"tools": True, "context_window": 4096}
        ),
    )
    assert model.capabilities == ModelCapabilities(
        tools=True, vision=False, structured_output=True, context_window=4096
    )


def test_retries_and_timeout_reach_the_provider() -> None:
    model = build_model(
        "m", spec(provider="anthropic", model="claude-x", api_key="k", max_retries=5, timeout=9)
    )
    assert isinstance(model, AnthropicModel)
    assert (model.retry.max_retries, model.timeout) == (5, 9)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"provider": "openai", "model": "gpt-4o"},
            "$.api_key: no API key for openai model 'gpt-4o': set api_key (e.g. \"${OPENAI_API_KEY}\") "
            "or the OPENAI_API_KEY environment variable",
        ),
        (
            {"provider": "anthropic", "model": "claude-x", "api_key": ""},
            "$.api_key: no API key for anthropic model 'claude-x': set api_key (e.g. \"${ANTHROPIC_API_KEY}\") "
            "or the ANTHROPIC_API_KEY environment variable",
        ),
        (
            {"provider": "anthropic", "model": "c", "api_key": "k", "thinking": 100},
            '$.thinking: expected a token budget of at least 1024, "adaptive", or the API\'s '
            "thinking object, got 100",
        ),
        (
            {"provider": "ollama", "model": "m", "thinking": "max"},
            '$.thinking: expected true, "low", "medium" or "high", got \'max\'',
        ),
        (
            {"provider": "anthropic", "model": "c", "api_key": "k", "seed": 3},
            "$.seed: Anthropic's API has no seed; remove it",
        ),
        (
            {"provider": "openai", "model": "m", "api_key": "k", "options": {"num_ctx": 1}},
            "$.options: applies to provider ollama only, not openai",
        ),
        (
            {"provider": "ollama", "model": "m", "api_version": "2024-10-21"},
            "$.api_version: applies to provider openai only, not ollama",
        ),
    ],
)
def test_mistakes_are_config_errors_with_their_path(fields: dict[str, Any], expected: str) -> None:
    assert issues("m", fields) == [expected]


def test_a_local_openai_compatible_server_needs_no_key() -> None:
    model = build_model(
        "m", spec(provider="openai", model="qwen", base_url="http://127.0.0.1:8000/v1")
    )
    assert isinstance(model, OpenAIModel)


def test_demo_when_no_key_still_works_for_any_provider() -> None:
    model = build_model(
        "m", spec(provider="anthropic", model="claude-x", api_key="", demo_when_no_key=True)
    )
    assert isinstance(model, DemoModel)


def test_a_fallback_wraps_the_model() -> None:
    models = {
        "main": {"provider": "openai", "model": "gpt-4o", "api_key": "k", "fallback": "backup"},
        "backup": {"provider": "ollama", "model": "llama3.1"},
    }
    specs = {name: spec(**fields) for name, fields in models.items()}

    model = build_model("main", specs["main"], models=specs)

    assert isinstance(model, FallbackModel)
    assert isinstance(model.primary, OpenAIModel) and isinstance(model.fallback, OllamaModel)
    assert (model.provider, model.model_name) == ("openai", "gpt-4o")


@pytest.mark.parametrize(
    ("models", "expected"),
    [
        ({}, "$.fallback: unknown model 'backup'; models: main"),
        (
            {
                "backup": {
                    "provider": "openai",
                    "model": "gpt-4o",
                    "api_key": "k",
                    "fallback": "main",
                }
            },
            "$.fallback: model 'backup' cannot be built: $.fallback: models fall back in a cycle: "
            "main → backup → main",
        ),
        (
            {"backup": {"provider": "anthropic", "model": "claude-x"}},
            "$.fallback: model 'backup' cannot be built: $.api_key: no API key for anthropic",
        ),
    ],
)
def test_fallback_mistakes(models: dict[str, Any], expected: str) -> None:
    main = {"provider": "openai", "model": "gpt-4o", "api_key": "k", "fallback": "backup"}
    found = issues("main", main, {"main": main, **models})
    assert len(found) == 1 and found[0].startswith(expected)


def test_errors_in_a_full_config_are_reported_under_the_model() -> None:
    text = """
models:
  claude: {provider: anthropic, model: claude-sonnet-4-5, seed: 1, api_key: k}
  gpt: {provider: openai, model: gpt-4o}
teams:
  t:
    agents:
      - {name: a, model: claude}
      - {name: b, model: gpt}
"""
    with pytest.raises(ConfigError) as caught:
        build_teams(read_config(text, env={}))

    assert [str(i) for i in caught.value.issues] == [
        "$.models.claude.seed: Anthropic's API has no seed; remove it",
        "$.models.gpt.api_key: no API key for openai model 'gpt-4o': set api_key (e.g. \"${OPENAI_API_KEY}\") "
        "or the OPENAI_API_KEY environment variable",
    ]


def test_an_unknown_provider_is_reported_with_its_path() -> None:
    text = (
        "models:\n  m: {provider: gemini, model: x}\nteams:\n  t: {agents: [{name: a, model: m}]}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"\$\.models\.m\.provider: invalid value 'gemini'; expected one of: openai, anthropic, ollama, demo",
    ):
        read_config(text, env={})


@pytest.mark.anyio
async def test_configured_models_answer_through_their_fakes() -> None:
    async with FakeAnthropicServer() as claude, FakeOllamaServer() as local:
        text = f"""
models:
  claude: {{provider: anthropic, model: claude-haiku-4-5, base_url: "{claude.base_url}", api_key: k}}
  local: {{provider: ollama, model: llama3.2, base_url: "{local.base_url}"}}
"""
        config = read_config(text + "teams: {t: {agents: [{name: a, model: claude}]}}", env={})
        for name, fake in (("claude", claude), ("local", local)):
            model = build_model(name, config.models[name], models=config.models)
            assert final(await collect(model, ask(f"hi {name}"))).content == f"hi {name}"
            assert fake.stats.requests == 1
            await model.aclose()  # type: ignore[attr-defined]
