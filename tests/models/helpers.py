"""What the provider tests share: a request, collecting a stream, its final response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from troupe.messages import UserMessage
from troupe.models import ChatModel, ModelRequest, ModelResponse, ModelStreamItem


def ask(text: str = "hello there", **kwargs: Any) -> ModelRequest:
    return ModelRequest(messages=(UserMessage(content=text),), **kwargs)


async def collect(model: ChatModel, request: ModelRequest) -> list[ModelStreamItem]:
    return [item async for item in model.stream(request)]


async def consume(stream: AsyncIterator[ModelStreamItem], into: list[ModelStreamItem]) -> None:
    async for item in stream:
        into.append(item)


def final(items: list[ModelStreamItem]) -> ModelResponse:
    assert isinstance(items[-1], ModelResponse)
    assert not any(isinstance(item, ModelResponse) for item in items[:-1])
    return items[-1]
