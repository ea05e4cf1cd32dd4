"""Models in config: the ``models:`` schema, and the ``ChatModel`` each entry becomes.

``build_model`` raises ``ConfigError`` with paths relative to the entry
(``$.api_key``, ``$.thinking``); the caller re-roots them under
``$.models.<name>``. A provider's SDK is imported only when a model uses it.
"""

from __future__ import annotations

__all__ = ["CapabilitiesSpec", "ModelSpec", "PriceSpec", "build_model"]

import logging
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from troupe.config._collect import shown
from troupe.config.cache import ModelCacheSpec
from troupe.errors import ConfigError, ConfigIssue
from troupe.models import ChatModel, DemoModel, FallbackModel, ModelCapabilities, capabilities_for

logger = logging.getLogger("troupe.config")

PositiveInt = Annotated[int, Meta(ge=1)]
_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_EXTRA = {"anthropic": "anthropic", "ollama": "ollama"}


class CapabilitiesSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """What the model can do, where troupe's defaults for its family are wrong or unknown."""

    tools: bool | None = None
    vision: bool | None = None
    structured_output: bool | None = None
    context_window: PositiveInt | None = None


class PriceSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """What the model costs, in your currency per million tokens (the studio shows costs)."""

    input: Annotated[float, Meta(ge=0)] = 0.0
    output: Annotated[float, Meta(ge=0)] = 0.0


class ModelSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A model an agent can use. ``provider: demo`` is the offline demo model."""

    provider: Literal["openai", "anthropic", "ollama", "demo"]
    model: str = ""
    base_url: str | None = None
    api_key: str | None = None
    # Use the offline demo model when api_key is empty (examples run without keys).
    demo_when_no_key: bool = False
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    max_tokens: PositiveInt | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    # Seconds for the connection and for every read; the provider's default when unset.
    timeout: Annotated[float, Meta(gt=0)] | None = None
    max_retries: Annotated[int, Meta(ge=0, le=10)] = 2
    # Another entry of ``models:``, called when this one fails after its retries.
    fallback: str | None = None
    capabilities: CapabilitiesSpec | None = None
    # Anthropic: a budget of tokens, "adaptive" or the API's object. Ollama: true, or
    # "low" / "medium" / "high". OpenAI: the reasoning effort ("low", "medium", "high").
    thinking: bool | int | str | dict[str, Any] | None = None
    # Ollama: model options (num_ctx, repeat_penalty, ...) and how long the model stays loaded.
    options: dict[str, Any] = {}
    keep_alive: float | str | None = None
    # Azure OpenAI: the API version; the deployment defaults to ``model``.
    api_version: str | None = None
    azure_deployment: str | None = None
    headers: dict[str, str] = {}
    # Extra request-body fields passed to the provider as they are.
    extra_body: dict[str, Any] = {}
    # Per million tokens: ``{input: 2.5, output: 10}``; the studio's costs use it.
    price: PriceSpec | None = None
    # Keep responses: {store: memory | database | redis, url, ttl_seconds, max_entries}.
    cache: ModelCacheSpec | None = None


def _misplaced(spec: ModelSpec) -> list[ConfigIssue]:
    only = {
        "options": ("ollama", bool(spec.options)),
        "keep_alive": ("ollama", spec.keep_alive is not None),
        "api_version": ("openai", spec.api_version is not None),
        "azure_deployment": ("openai", spec.azure_deployment is not None),
    }
    return [
        ConfigIssue(f"$.{field}", f"applies to provider {provider} only, not {spec.provider}")
        for field, (provider, given) in only.items()
        if given and spec.provider != provider
    ]


def _thinking(spec: ModelSpec) -> Any:
    """``thinking`` in the provider's terms; a value it cannot take is a config error."""
    value, provider = spec.thinking, spec.provider
    if value is None or value is False:
        return None
    if provider == "anthropic":
        if isinstance(value, dict):
            return value
        if value == "adaptive":
            return {"type": "adaptive"}
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1024:
            return {"type": "enabled", "budget_tokens": value}
        expected = 'a token budget of at least 1024, "adaptive", or the API\'s thinking object'
    elif provider == "ollama":
        if value is True or value in ("low", "medium", "high"):
            return value
        expected = 'true, "low", "medium" or "high"'
    elif provider == "openai":
        if value in ("minimal", "low", "medium", "high"):
            return value
        expected = 'a reasoning effort: "minimal", "low", "medium" or "high"'
    else:
        return None
    raise ConfigError(ConfigIssue("$.thinking", f"expected {expected}, got {shown(value)}"))


def _capabilities(spec: ModelSpec) -> ModelCapabilities:
    caps = capabilities_for(spec.provider, spec.model)
    window = spec.options.get("num_ctx")
    if spec.provider == "ollama" and isinstance(window, int) and window > 0:
        caps = msgspec.structs.replace(caps, context_window=window)  # what Ollama will keep
    if spec.capabilities is not None:
        given = {
            k: v for k, v in msgspec.structs.asdict(spec.capabilities).items() if v is not None
        }
        caps = msgspec.structs.replace(caps, **given)
    return caps


def _provider(spec: ModelSpec) -> ChatModel:
    settings = {
        key: value
        for key, value in (
            ("temperature", spec.temperature),
            ("max_tokens", spec.max_tokens),
            ("top_p", spec.top_p),
            ("seed", spec.seed),
            ("stop", spec.stop),
        )
        if value is not None
    }
    common: dict[str, Any] = {
        "max_retries": spec.max_retries,
        "default_headers": spec.headers or None,
        "capabilities": _capabilities(spec),
    }
    if spec.timeout is not None:
        common["timeout"] = spec.timeout
    thinking = _thinking(spec)
    if spec.provider == "anthropic":
        from troupe.models.anthropic import AnthropicModel

        return AnthropicModel(
            spec.model,
            api_key=spec.api_key,
            base_url=spec.base_url or None,
            settings={**settings, **spec.extra_body},
            thinking=thinking,
            **common,
        )
    if spec.provider == "ollama":
        from troupe.models.ollama import OllamaModel

        return OllamaModel(
            spec.model,
            api_key=spec.api_key,
            base_url=spec.base_url or None,
            settings={**settings, **spec.extra_body},
            options=spec.options,
            keep_alive=spec.keep_alive,
            think=thinking,
            **common,
        )
    from troupe.models.openai import OpenAIModel

    if thinking is not None:
        settings["reasoning_effort"] = thinking
    return OpenAIModel(
        spec.model,
        api_key=spec.api_key,
        base_url=spec.base_url or None,
        settings={**settings, **spec.extra_body},
        api_version=spec.api_version,
        azure_deployment=spec.azure_deployment,
        **common,
    )


def _import_provider(spec: ModelSpec) -> ChatModel:
    try:
        return _provider(spec)
    except ImportError as err:
        extra = _EXTRA.get(spec.provider, spec.provider)
        raise ConfigError(
            ConfigIssue(
                "$.provider",
                f"provider {spec.provider} needs a package that is not installed ({err.name}): "
                f'pip install "troupe-server[{extra}]" (from a clone: uv sync --extra {extra})',
            )
        ) from None


def build_model(
    name: str,
    spec: ModelSpec,
    *,
    models: Mapping[str, ModelSpec] | None = None,
    _chain: tuple[str, ...] = (),
) -> ChatModel:
    """The ``ChatModel`` for one entry of ``models:``.

    ``models`` (the whole ``models:`` section) is needed when the entry names
    a ``fallback``. Raises ``ConfigError`` with paths relative to the entry.
    """
    issues = _misplaced(spec)
    if spec.fallback is not None and spec.provider == "demo":
        issues.append(ConfigIssue("$.fallback", "the demo model does not fail; remove it"))
    if issues:
        raise ConfigError(issues)
    if spec.provider == "demo":
        caps = _capabilities(spec) if spec.capabilities else None
        return DemoModel(name=spec.model or "demo", capabilities=caps)
    if spec.demo_when_no_key and not spec.api_key:
        logger.warning("model %r has no API key: using the offline demo model", name)
        return DemoModel(name=f"demo ({spec.model or name})")
    model = _import_provider(spec)
    if getattr(model, "needs_api_key", False):
        env = _KEY_ENV.get(spec.provider, "")
        if spec.api_version:
            env = "AZURE_OPENAI_API_KEY"
        raise ConfigError(
            ConfigIssue(
                "$.api_key",
                f"no API key for {spec.provider} model {spec.model!r}: set api_key "
                f'(e.g. "${{{env}}}") or the {env} environment variable',
            )
        )
    if spec.fallback is None:
        return model
    return FallbackModel(model, _fallback(name, spec.fallback, models, _chain))


def _fallback(
    name: str, fallback: str, models: Mapping[str, ModelSpec] | None, chain: tuple[str, ...]
) -> ChatModel:
    known = models or {}
    if fallback not in known:
        names = ", ".join(sorted(known)) or "none given"
        raise ConfigError(ConfigIssue("$.fallback", f"unknown model {fallback!r}; models: {names}"))
    if fallback == name or fallback in chain:
        loop = " → ".join([*chain, name, fallback])
        raise ConfigError(ConfigIssue("$.fallback", f"models fall back in a cycle: {loop}"))
    try:
        return build_model(fallback, known[fallback], models=known, _chain=(*chain, name))
    except ConfigError as err:
        said = "; ".join(str(issue) for issue in err.issues)
        raise ConfigError(
            ConfigIssue("$.fallback", f"model {fallback!r} cannot be built: {said}")
        ) from None
