"""A plain client (the openai SDK) reads a graph team whose two branches write at once.

The branches' words really interleave (each model waits for the other's word
before writing its next), so a client that printed ``content`` as it came
would read whole messages only if the server holds one while the other is
written.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import pytest

from tests.server.conftest import app_for
from troupe.agents import AssistantAgent
from troupe.messages import Usage
from troupe.models import ModelCapabilities, ModelRequest, ModelResponse, ScriptedModel
from troupe.models._base import ModelStreamItem, TextChunk
from troupe.teams import Edge, GraphTeam

pytestmark = pytest.mark.anyio

INTRO = "Tea began in China as a medicine, long before it was a drink."
BODY = "Green, black and oolong teas come from the very same plant leaves."


class Lockstep:
    """Turns shared by two models: word ``i`` of model ``p`` is written at turn ``2*i + p``."""

    def __init__(self) -> None:
        self.turn = 0
        self._changed = anyio.Event()

    async def wait_for(self, turn: int) -> None:
        while self.turn < turn:
            await self._changed.wait()

    def next(self) -> None:
        self.turn += 1
        self._changed.set()
        self._changed = anyio.Event()


class LockstepModel:
    """A ``ChatModel`` that writes ``text`` word by word, taking turns with its twin."""

    provider = "lockstep"
    capabilities = ModelCapabilities()

    def __init__(self, lock: Lockstep, parity: int, text: str) -> None:
        self.model_name = f"lockstep-{parity}"
        self.lock = lock
        self.parity = parity
        self.text = text

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelStreamItem, None]:
        words = [word + " " for word in self.text.split(" ")]
        words[-1] = words[-1].rstrip()
        for index, word in enumerate(words):
            with anyio.fail_after(5):
                await self.lock.wait_for(2 * index + self.parity)
            yield TextChunk(word)
            self.lock.next()
        yield ModelResponse(content=self.text, usage=Usage(prompt_tokens=1, completion_tokens=1))


def pipeline() -> GraphTeam:
    lock = Lockstep()
    agents = [
        AssistantAgent("outliner", ScriptedModel(["1. origins 2. kinds"] * 2)),
        AssistantAgent("intro_writer", LockstepModel(lock, 0, INTRO)),
        AssistantAgent("body_writer", LockstepModel(lock, 1, BODY)),
    ]
    edges = [Edge("outliner", "intro_writer"), Edge("outliner", "body_writer")]
    return GraphTeam("pipeline", agents, edges)


EXPECTED = (
    f"**outliner:** 1. origins 2. kinds\n\n**intro_writer:** {INTRO}\n\n**body_writer:** {BODY}"
)


async def test_a_streaming_client_reads_each_branch_whole_after_its_speaker_line(
    make_client: Any,
) -> None:
    client = await make_client(app_for(pipeline()))
    stream = await client.chat.completions.create(
        model="pipeline", messages=[{"role": "user", "content": "An essay on tea"}], stream=True
    )
    content: list[str] = []
    live: list[str] = []  # the agent of each text tag in delta.troupe, in arrival order
    async for chunk in stream:
        delta = chunk.choices[0].delta
        content.append(delta.content or "")
        tag = (delta.model_extra or {}).get("troupe") or {}
        if tag.get("type") == "text":
            live.append(tag["agent"])
    assert "".join(content) == EXPECTED
    # Rich clients still saw the branches live, word by word, interleaved.
    branches = [agent for agent in live if agent != "outliner"]
    switches = sum(1 for a, b in itertools.pairwise(branches) if a != b)
    assert switches >= 10


async def test_a_non_streaming_client_reads_the_same_answer(make_client: Any) -> None:
    client = await make_client(app_for(pipeline()))
    completion = await client.chat.completions.create(
        model="pipeline", messages=[{"role": "user", "content": "An essay on tea"}]
    )
    assert completion.choices[0].message.content == EXPECTED
