"""Embeddings from the configured provider: an OpenAI-compatible ``/v1/embeddings``, or Ollama."""

from __future__ import annotations

__all__ = ["Embedder", "OllamaEmbedder", "OpenAIEmbedder"]

from collections.abc import Sequence
from typing import Any, Protocol

from troupe.errors import UpstreamError


class Embedder(Protocol):
    @property
    def model_name(self) -> str: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


class OpenAIEmbedder:
    """``POST {base_url}/embeddings`` through the openai SDK (OpenAI, vLLM, LM Studio, …)."""

    def __init__(
        self, model: str, *, base_url: str | None = None, api_key: str | None = None
    ) -> None:
        from openai import AsyncOpenAI

        self.model_name = model
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key or "none", max_retries=2)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        try:
            response = await self._client.embeddings.create(
                model=self.model_name, input=list(texts)
            )
        except Exception as err:
            raise _failed("openai", self.model_name, err) from err
        ordered = sorted(response.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered]

    async def aclose(self) -> None:
        await self._client.close()


class OllamaEmbedder:
    """Ollama's ``/api/embed`` through the ollama SDK (the ``ollama`` extra)."""

    def __init__(self, model: str, *, host: str | None = None) -> None:
        import ollama

        self.model_name = model
        self._client: Any = ollama.AsyncClient(host=host)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        try:
            response = await self._client.embed(model=self.model_name, input=list(texts))
        except Exception as err:
            raise _failed("ollama", self.model_name, err) from err
        return [list(vector) for vector in response["embeddings"]]

    async def aclose(self) -> None:
        await self._client.close()


def _failed(provider: str, model: str, err: Exception) -> UpstreamError:
    return UpstreamError(
        f"{provider} embeddings with '{model}' failed: {err}", provider=provider, model=model
    )
