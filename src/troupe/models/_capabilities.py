"""What models can do: known defaults per model family, and checks against them.

A model's ``capabilities`` are what config states, over the table below
(matched on the model name), over the permissive default: troupe refuses only
what it knows a model cannot do. Ollama constrains output with a
grammar, so every Ollama model can give structured output.
"""

from __future__ import annotations

__all__ = [
    "ModelWrapper",
    "capabilities_for",
    "capabilities_of",
    "capability_problem",
    "has_images",
    "missing_capabilities",
]

import re
from collections.abc import Iterable
from typing import Final

import msgspec

from troupe.messages import ImagePart, Message, UserMessage
from troupe.models._base import ChatModel, ModelCapabilities

_ALL = ModelCapabilities()


def _caps(
    window: int, *, tools: bool = True, vision: bool = False, structured: bool = True
) -> ModelCapabilities:
    return ModelCapabilities(
        tools=tools, vision=vision, structured_output=structured, context_window=window
    )


# First match wins, so specific names come before their family. Matched
# against the lowercased name without a "vendor/" prefix; Ollama tags
# (":8b") and dated suffixes ("-2024-08-06") follow the prefix.
_FAMILIES: Final[tuple[tuple[re.Pattern[str], ModelCapabilities], ...]] = tuple(
    (re.compile(pattern), caps)
    for pattern, caps in (
        # OpenAI
        (r"gpt-5", _caps(400_000, vision=True)),
        (r"gpt-4\.1", _caps(1_047_576, vision=True)),
        (r"gpt-4o", _caps(128_000, vision=True)),
        (r"gpt-4\.5", _caps(128_000, vision=True)),
        (
            r"gpt-4-turbo|gpt-4-\d{4}-preview|gpt-4-vision",
            _caps(128_000, vision=True, structured=False),
        ),
        (r"gpt-4-32k", _caps(32_768, structured=False)),
        (r"gpt-4(?![.\w])", _caps(8_192, structured=False)),
        (r"gpt-3\.5-turbo", _caps(16_385, structured=False)),
        (r"gpt-oss", _caps(131_072)),
        (r"o1-mini|o1-preview", _caps(128_000, tools=False, structured=False)),
        (r"o3-mini", _caps(200_000)),
        (r"o[134](?![\d.])", _caps(200_000, vision=True)),
        # Anthropic: native structured output from the 4.1/4.5 generation on.
        (
            r"claude-(opus|sonnet|haiku)-4(-0|-\d{8})?(?![-\d])",
            _caps(200_000, vision=True, structured=False),
        ),
        (r"claude-(opus|sonnet|haiku)-\d", _caps(200_000, vision=True)),
        (r"claude-", _caps(200_000, vision=True, structured=False)),
        # Open-weight families as Ollama and OpenAI-compatible servers name them.
        (
            r"llama-?3\.2-vision|llava|bakllava|moondream|minicpm-v",
            _caps(8_192, tools=False, vision=True),
        ),
        (r"llama-?4", _caps(1_000_000, vision=True)),
        (r"llama-?3\.[123]", _caps(131_072)),
        (r"llama-?3", _caps(8_192, tools=False)),
        (r"llama-?2", _caps(4_096, tools=False, structured=False)),
        (r"qwen2\.5-?vl|qwen-?vl|qwen3-?vl", _caps(32_768, vision=True)),
        (r"qwen3", _caps(40_960)),
        (r"qwen2\.5-coder|qwq", _caps(32_768)),
        (r"qwen", _caps(32_768)),
        (r"mistral-nemo|mistral-small3|mistral-large", _caps(131_072)),
        (r"mistral|mixtral", _caps(32_768)),
        (r"gemma3", _caps(131_072, tools=False, vision=True)),
        (r"gemma", _caps(8_192, tools=False)),
        (r"deepseek-r1", _caps(131_072, tools=False)),
        (r"deepseek", _caps(131_072)),
        (r"phi4-mini", _caps(131_072)),
        (r"phi", _caps(16_384, tools=False)),
        (r"command-r", _caps(131_072)),
    )
)


def capabilities_for(provider: str, model: str) -> ModelCapabilities:
    """The known capabilities of ``model`` on ``provider`` (permissive when unknown)."""
    name = model.lower().rsplit("/", 1)[-1]
    found = next((caps for pattern, caps in _FAMILIES if pattern.match(name)), _ALL)
    if provider == "ollama" and not found.structured_output:
        found = msgspec.structs.replace(found, structured_output=True)
    return found


def capabilities_of(model: ChatModel) -> ModelCapabilities:
    """``model.capabilities``, or "can do everything" for a model written without them."""
    caps = getattr(model, "capabilities", None)
    return caps if isinstance(caps, ModelCapabilities) else _ALL


def has_images(messages: Iterable[Message]) -> bool:
    """Whether any user message carries an image part."""
    return any(
        isinstance(m, UserMessage)
        and not isinstance(m.content, str)
        and any(isinstance(part, ImagePart) for part in m.content)
        for m in messages
    )


def missing_capabilities(
    model: ChatModel,
    *,
    tools: bool = False,
    images: bool = False,
    structured_output: bool = False,
) -> list[str]:
    """The needed capabilities ``model`` lacks: any of ``tools``, ``vision``, ``structured_output``."""
    caps = capabilities_of(model)
    needed = (
        ("tools", tools and not caps.tools),
        ("vision", images and not caps.vision),
        ("structured_output", structured_output and not caps.structured_output),
    )
    return [name for name, missing in needed if missing]


_SAYS = {
    "tools": "cannot call tools",
    "vision": "cannot read images",
    "structured_output": "cannot give structured output",
}


def capability_problem(
    model: ChatModel,
    *,
    tools: bool = False,
    images: bool = False,
    structured_output: bool = False,
) -> str | None:
    """A sentence for a config or request error when ``model`` lacks what is needed, else None.

    For example: ``ollama model 'llama3' cannot call tools (set capabilities.tools:
    true on the model if it can)``.
    """
    missing = missing_capabilities(
        model, tools=tools, images=images, structured_output=structured_output
    )
    if not missing:
        return None
    says = " and ".join(_SAYS[name] for name in missing)
    settings = ", ".join(f"capabilities.{name}: true" for name in missing)
    return (
        f"{model.provider} model '{model.model_name}' {says} "
        f"(set {settings} on the model if it can)"
    )


class ModelWrapper:
    """A model around ``model`` (a cache, retries): it is that model to whoever asks which
    provider, model and capabilities it has."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    @property
    def provider(self) -> str:
        return self.model.provider

    @property
    def model_name(self) -> str:
        return self.model.model_name

    @property
    def capabilities(self) -> ModelCapabilities:
        return capabilities_of(self.model)
