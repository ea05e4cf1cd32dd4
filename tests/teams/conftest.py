from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx2
import openai
import pytest

from tests.asgi import ServedTransport
from troupe.events import Event
from troupe.messages import UserMessage
from troupe.server import create_app
from troupe.teams import RunResult, RunState, Team
from troupe.wire import StreamDecoder


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


async def run_team(
    team: Team, text: str, state: RunState | None = None, **kwargs: Any
) -> tuple[RunResult, Recorder]:
    recorder = Recorder()
    result = await team.run(
        state or team.new_state("c1"), [UserMessage(content=text)], recorder, **kwargs
    )
    return result, recorder


def speakers(state: RunState) -> list[str]:
    return [m.source for m in state.transcript]


class Chat:
    """One conversation with a team through the openai SDK, over the in-process app."""

    def __init__(self, *teams: Team, app: Any = None) -> None:
        self.app = app or create_app(teams=teams)
        http = httpx2.AsyncClient(transport=ServedTransport(self.app), base_url="http://t")
        self.client = openai.AsyncOpenAI(
            base_url="http://t/v1", api_key="k", http_client=http, max_retries=0
        )
        self.conversation_id: str | None = None

    async def say(self, team: str, text: str) -> tuple[str, list[Event]]:
        headers = {"X-Conversation-Id": self.conversation_id} if self.conversation_id else {}
        stream = await self.client.chat.completions.create(
            model=team,
            messages=[{"role": "user", "content": text}],
            stream=True,
            extra_headers=headers,
        )
        decoder = StreamDecoder()
        events: list[Event] = []
        content: list[str] = []
        async with stream:
            self.conversation_id = stream.response.headers["x-conversation-id"]
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    content.append(chunk.choices[0].delta.content)
                events.extend(decoder.feed(chunk))
        return "".join(content), events


def names(events: Sequence[Event], kind: type) -> list[str]:
    return [e.agent for e in events if isinstance(e, kind)]


@pytest.fixture
def chat() -> type[Chat]:
    return Chat
