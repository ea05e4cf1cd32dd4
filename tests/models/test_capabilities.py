"""What troupe knows models can do, and the sentences it says when they cannot."""

from __future__ import annotations

import pytest

from troupe.messages import ImagePart, TextPart, UserMessage
from troupe.models import (
    DemoModel,
    FunctionModel,
    ModelCapabilities,
    ScriptedModel,
    capabilities_for,
    capabilities_of,
    capability_problem,
    has_images,
    missing_capabilities,
)


@pytest.mark.parametrize(
    ("provider", "model", "tools", "vision", "structured", "window"),
    [
        ("openai", "gpt-4o-mini", True, True, True, 128_000),
        ("openai", "gpt-4o-2024-08-06", True, True, True, 128_000),
        ("openai", "gpt-4.1-nano", True, True, True, 1_047_576),
        ("openai", "gpt-4-0613", True, False, False, 8_192),
        ("openai", "gpt-3.5-turbo", True, False, False, 16_385),
        ("openai", "o1-mini", False, False, False, 128_000),
        ("openai", "o3-mini", True, False, True, 200_000),
        ("openai", "o4-mini", True, True, True, 200_000),
        ("anthropic", "claude-3-5-haiku-latest", True, True, False, 200_000),
        ("anthropic", "claude-sonnet-4-20250514", True, True, False, 200_000),
        ("anthropic", "claude-opus-4-0", True, True, False, 200_000),
        ("anthropic", "claude-sonnet-4-5-20250929", True, True, True, 200_000),
        ("anthropic", "claude-opus-4-1", True, True, True, 200_000),
        ("ollama", "llama3.1:8b", True, False, True, 131_072),
        ("ollama", "llama3:latest", False, False, True, 8_192),
        (
            "ollama",
            "llama2",
            False,
            False,
            True,
            4_096,
        ),  # Ollama's grammar makes any model structured
        ("ollama", "llama3.2-vision", False, True, True, 8_192),
        ("ollama", "qwen2.5:14b", True, False, True, 32_768),
        ("ollama", "llava:13b", False, True, True, 8_192),
        ("openai", "meta-llama/Llama-3.3-70B-Instruct", True, False, True, 131_072),
    ],
)
def test_known_families(
    provider: str, model: str, tools: bool, vision: bool, structured: bool, window: int
) -> None:
    caps = capabilities_for(provider, model)
    assert (caps.tools, caps.vision, caps.structured_output, caps.context_window) == (
        tools,
        vision,
        structured,
        window,
    )


def test_an_unknown_model_is_allowed_everything() -> None:
    assert capabilities_for("openai", "my-finetune-v3") == ModelCapabilities()


def test_test_doubles_can_do_everything_unless_told() -> None:
    assert ScriptedModel([]).capabilities == ModelCapabilities()
    assert FunctionModel(lambda r: "x").capabilities == ModelCapabilities()
    assert DemoModel().capabilities == ModelCapabilities()
    blind = ScriptedModel([], capabilities=ModelCapabilities(vision=False))
    assert missing_capabilities(blind, images=True, tools=True) == ["vision"]


def test_a_model_written_without_capabilities_counts_as_capable() -> None:
    class Bare:
        provider = "custom"
        model_name = "bare"

    assert capabilities_of(Bare()) == ModelCapabilities()  # type: ignore[arg-type]


def test_has_images() -> None:
    assert not has_images([UserMessage(content="hi")])
    assert not has_images([UserMessage(content=(TextPart(text="hi"),))])
    assert has_images([UserMessage(content=(ImagePart(url="https://x/cat.png"),))])


def test_the_problem_says_what_is_missing_and_how_to_state_otherwise() -> None:
    model = ScriptedModel(
        [], name="llama3", capabilities=ModelCapabilities(tools=False, vision=False)
    )

    assert capability_problem(model, tools=False, images=False) is None
    assert capability_problem(model, tools=True, images=True) == (
        "scripted model 'llama3' cannot call tools and cannot read images "
        "(set capabilities.tools: true, capabilities.vision: true on the model if it can)"
    )
