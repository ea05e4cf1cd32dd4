"""``memories:`` in config: list and vector memories that agents name in ``memory:``
(wired in spec.py / agents.py / build.py)."""

from __future__ import annotations

__all__ = ["MemorySpec", "build_memory"]

import os
from typing import Annotated, ClassVar, Literal

import anyio
import msgspec
from msgspec import Meta

from troupe.errors import ConfigError, ConfigIssue
from troupe.memory import Memory, MemoryItem


class EmbeddingsSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Where embeddings come from: an OpenAI-compatible ``/v1/embeddings`` or Ollama."""

    provider: Literal["openai", "ollama"] = "openai"
    model: str
    # OpenAI-compatible: the API's base URL (…/v1); Ollama: the host. Unset: the default.
    base_url: str | None = None
    api_key: str | None = None


class _MemoryBase(
    msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True, tag_field="kind"
):
    kind: ClassVar[str]


class ListMemorySpec(_MemoryBase, tag="list", kw_only=True, frozen=True):
    """Static facts, all recalled before every turn."""

    kind: ClassVar[Literal["list"]] = "list"
    items: list[str] = []


class VectorMemorySpec(_MemoryBase, tag="vector", kw_only=True, frozen=True):
    """Texts in the store's database, the nearest to the latest message recalled."""

    kind: ClassVar[Literal["vector"]] = "vector"
    embeddings: EmbeddingsSpec
    top_k: Annotated[int, Meta(ge=1)] = 3
    min_score: Annotated[float, Meta(ge=-1, le=1)] | None = None
    # Put in the memory the first time it is used, if it is empty then.
    documents: list[str] = []
    # The database; unset: the store's (``server.database_url`` / TROUPE_DATABASE_URL).
    database_url: str | None = None


MemorySpec = ListMemorySpec | VectorMemorySpec


def build_memory(name: str, spec: MemorySpec, database_url: str) -> Memory:
    if isinstance(spec, ListMemorySpec):
        from troupe.memory import ListMemory

        return ListMemory(name, spec.items)
    from troupe.memory import OllamaEmbedder, OpenAIEmbedder
    from troupe.memory._vector import VectorMemory

    embeddings = spec.embeddings
    embedder: OpenAIEmbedder | OllamaEmbedder
    try:
        if embeddings.provider == "ollama":
            embedder = OllamaEmbedder(embeddings.model, host=embeddings.base_url)
        else:
            embedder = OpenAIEmbedder(
                embeddings.model,
                base_url=embeddings.base_url,
                api_key=embeddings.api_key or os.environ.get("OPENAI_API_KEY"),
            )
    except ImportError as err:
        raise ConfigError(ConfigIssue("$.embeddings.provider", str(err))) from None
    url = spec.database_url or os.environ.get("TROUPE_DATABASE_URL", "").strip() or database_url
    try:
        memory = VectorMemory(name, embedder, url, top_k=spec.top_k, min_score=spec.min_score)
    except ValueError as err:
        raise ConfigError(ConfigIssue("$.database_url", str(err))) from None
    return _Seeded(memory, spec.documents) if spec.documents else memory


class _Seeded:
    """A vector memory given ``documents`` the first time it is used, if it is empty."""

    def __init__(self, memory: Memory, documents: list[str]) -> None:
        self.memory = memory
        self.documents = documents
        self._seeded = False
        self._lock = anyio.Lock()

    @property
    def name(self) -> str:
        return self.memory.name

    async def _seed(self) -> None:
        async with self._lock:
            if not self._seeded:
                if await self.memory.count() == 0:  # type: ignore[attr-defined]
                    await self.memory.add_many(self.documents)  # type: ignore[attr-defined]
                self._seeded = True

    async def query(self, text: str, *, scope: str = "") -> list[MemoryItem]:
        if not self._seeded:
            await self._seed()
        return await self.memory.query(text, scope=scope)

    async def add(
        self, content: str, metadata: dict[str, object] | None = None, *, scope: str = ""
    ) -> None:
        await self.memory.add(content, metadata, scope=scope)

    async def aclose(self) -> None:
        await self.memory.aclose()  # type: ignore[attr-defined]
