"""What one read from the network brought goes on as one delta per kind, in order.

A model that streams faster than the server reads gives it several tokens at a
time; they go to the run (and to the client) as one delta, as a relay forwards
what it read in one write. Text, thinking and tool-call fragments keep their
order; nothing is lost or moved.
"""

from __future__ import annotations

import pytest

from tests.fakes.openai_upstream import FakeOpenAIServer, Reply
from tests.models.helpers import ask, collect, final
from troupe.models import ReasoningChunk, TextChunk, ToolCallChunk
from troupe.models._base import joined
from troupe.models.openai import OpenAIModel

pytestmark = pytest.mark.anyio


def test_consecutive_text_and_thinking_join_and_keep_their_order() -> None:
    items = joined(
        [
            ReasoningChunk("think "),
            ReasoningChunk("hard"),
            TextChunk("the "),
            TextChunk("answer"),
            ToolCallChunk(index=0, id="c1", name="f"),
            ToolCallChunk(index=0, arguments='{"a"'),
            TextChunk(" and "),
            TextChunk("more"),
        ]
    )
    assert items == [
        ReasoningChunk("think hard"),
        TextChunk("the answer"),
        ToolCallChunk(index=0, id="c1", name="f"),
        ToolCallChunk(index=0, arguments='{"a"'),  # fragments stay as they came
        TextChunk(" and more"),
    ]
    assert joined([TextChunk("one")]) == [TextChunk("one")]
    assert joined([]) == []


async def test_tokens_that_arrive_together_come_as_fewer_deltas_with_the_whole_text(
    fake: FakeOpenAIServer,
) -> None:
    words = " ".join(f"w{i}" for i in range(300))
    fake.script(Reply(text=words))  # 300 chunks written at once: several per read
    # The server's own transport (aiohttp): a read gives all that came. (httpx gives each
    # HTTP chunk by itself: its deltas go on one by one, as before.)
    model = OpenAIModel("gpt-test", base_url=fake.base_url, api_key="sk-test", max_retries=0)
    try:
        items = await collect(model, ask("go"))
    finally:
        await model.aclose()

    texts = [item.text for item in items if isinstance(item, TextChunk)]
    assert "".join(texts) == words == final(items).content
    assert len(texts) < 300
