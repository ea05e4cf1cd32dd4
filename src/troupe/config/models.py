"""Models in config: the ``models:`` schema, and the ``ChatModel`` each entry becomes."""

from __future__ import annotations

__all__ = ["ModelSpec", "build_model"]

import logging
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from troupe.models import ChatModel, DemoModel

logger = logging.getLogger("troupe.config")

PositiveInt = Annotated[int, Meta(ge=1)]


class ModelSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A model an agent can use. ``provider: demo`` is the offline demo model."""

    provider: Literal["openai", "demo"]
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
    timeout: Annotated[float, Meta(gt=0)] = 60.0
    max_retries: Annotated[int, Meta(ge=0, le=10)] = 2
    headers: dict[str, str] = {}
    # Extra request-body fields passed to the provider as they are.
    extra_body: dict[str, Any] = {}


def build_model(name: str, spec: ModelSpec) -> ChatModel:
    """The ``ChatModel`` for one entry of ``models:``."""
    if spec.provider == "demo":
        return DemoModel(name=spec.model or "demo")
    if spec.demo_when_no_key and not spec.api_key:
        logger.warning("model %r has no API key: using the offline demo model", name)
        return DemoModel(name=f"demo ({spec.model or name})")
    from troupe.models.openai import OpenAIModel

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
    return OpenAIModel(
        spec.model,
        api_key=spec.api_key,
        base_url=spec.base_url or None,
        settings={**settings, **spec.extra_body},
        timeout=spec.timeout,
        max_retries=spec.max_retries,
        default_headers=spec.headers or None,
    )
