"""A turn rendered into a Slack thread: the real renderer against the fake Slack Web API.

The team is either a real troupe app in process (scripted models, the real
wire in between) or a recorded stream of events, for the kinds of event no
configurable team produces yet (handoffs, questions after a streamed answer).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import anyio
import httpx2
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.asgi import ServedTransport
from tests.fakes.slack_api import FakeSlackAPI, SlackMessage
from troupe.adapters import TeamClient
from troupe.adapters.slack import SlackTurn, ThreadPlace
from troupe.agents import AssistantAgent
from troupe.events import (
    AgentStarted,
    Event,
    HandoffOccurred,
    InputRequested,
    RunEnded,
    RunFailed,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)
from troupe.models import ScriptedModel
from troupe.server import create_app
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio

PLACE = ThreadPlace(channel="D0DIRECT", thread_ts="1800000100.000100", user="U0ALICE")
CONVERSATION = "slack:T0TROUPE:D0DIRECT:1800000100.000100"


def scripted_client(*replies: str, delay: float = 0.0) -> TeamClient:
    team = RoundRobinTeam(
        "team", [AssistantAgent("bot", ScriptedModel(list(replies), delay=delay))]
    )
    app = create_app(teams=[team])
    http = httpx2.AsyncClient(transport=ServedTransport(app))  # type: ignore[arg-type]
    return TeamClient("http://troupe.test", http_client=http)


class RecordedClient(TeamClient):
    """Replays batches of events as if the server streamed them; ``between`` runs between batches."""

    def __init__(
        self,
        *batches: Sequence[Event],
        between: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__("http://recorded.test")
        self.batches = batches
        self.between = between

    async def stream(
        self, team: str, text: str, *, conversation_id: str | None = None
    ) -> AsyncIterator[tuple[str | None, list[Event]]]:
        for index, batch in enumerate(self.batches):
            if index and self.between is not None:
                await self.between(index)
            yield conversation_id, list(batch)


def text(agent: str, words: str, message_id: str = "m1") -> list[Event]:
    return [
        TextDelta(agent=agent, message_id=message_id, text=w) for w in re.findall(r"\S+\s*", words)
    ]


async def play(slack: FakeSlackAPI, client: TeamClient, **kw: object) -> list[SlackMessage]:
    web = AsyncWebClient(token="xoxb-test", base_url=slack.base_url)
    turn = SlackTurn(web, PLACE, team="team", interval=0.01, **kw)  # type: ignore[arg-type]
    await turn.play(client, "go", conversation_id=CONVERSATION)
    await client.aclose()
    return slack.thread(PLACE.channel, PLACE.thread_ts)


async def test_long_answers_go_on_in_new_messages_at_the_size_limit() -> None:
    paragraph = " ".join(f"word{i}" for i in range(300)) + "\n\n"
    answer = paragraph * 16  # about 34,000 characters
    # A slow Slack: text keeps arriving while each write is in flight.
    async with FakeSlackAPI(delay=0.02) as slack:
        messages = await play(slack, scripted_client(answer))
    assert len(messages) in (3, 4)
    assert "".join(m.text for m in messages) == answer
    assert all(m.streamed and not m.streaming for m in messages)
    assert all(6_000 < len(m.text) <= 12_000 for m in messages[:-1])
    # Cut between words (at a paragraph break where one is near), never inside one.
    assert all(m.text[-1].isspace() for m in messages[:-1])
    assert [m.metadata is not None for m in messages] == [False] * (len(messages) - 1) + [True]


async def test_text_that_arrives_during_a_write_stays_in_the_same_message() -> None:
    answer = "Tea is brewed from the leaves of Camellia sinensis. " * 20
    words = text("bot", answer)

    async def slow_model(index: int) -> None:
        await anyio.sleep(0.002)  # pacing, like a model's tokens

    recorded = RecordedClient(*([w] for w in words), between=slow_model)
    # Each Slack call takes longer than several words: they pile up during every write.
    async with FakeSlackAPI(delay=0.03) as slack:
        messages = await play(slack, recorded)
        calls = [c.method for c in slack.calls if c.method.startswith("chat.")]
    [message] = messages
    assert message.text == answer
    assert calls[0] == "chat.startStream" and calls[-1] == "chat.stopStream"
    assert set(calls[1:-1]) == {"chat.appendStream"}
    assert len(calls) < len(words) // 3  # writes are batched, not one per token


async def test_tool_calls_and_handoffs_are_one_compact_block() -> None:
    recorded = RecordedClient(
        [
            AgentStarted(agent="triage", message_id="m0"),
            HandoffOccurred(agent="triage", target="coder", message="needs code"),
            ToolCalled(agent="coder", call_id="c1", name="run_python", arguments='{"code": "x"}'),
            ToolResultReturned(
                agent="coder",
                call_id="c1",
                name="run_python",
                content="Traceback (most recent call last):\n  NameError: name 'x' is not defined",
                is_error=True,
            ),
            ToolCalled(agent="coder", call_id="c2", name="run_python", arguments="{}"),
            ToolResultReturned(agent="coder", call_id="c2", name="run_python", content="42"),
            *text("coder", "It prints 42."),
            RunEnded(agent="team", stop_reason="done", conversation_id=CONVERSATION),
        ]
    )
    async with FakeSlackAPI() as slack:
        steps, answer = await play(slack, recorded)
    assert steps.blocks[0]["type"] == "context"
    assert steps.blocks[0]["elements"][0]["text"].splitlines() == [
        ":arrow_right: *triage* hands off to *coder*",
        ":x: *coder* · `run_python` failed: Traceback (most recent call last): NameError: "
        "name 'x' is not defined",
        ":white_check_mark: *coder* · `run_python`",
    ]
    assert answer.text == "It prints 42."
    assert answer.metadata is not None
    assert answer.metadata["event_payload"]["stop_reason"] == "done"


async def test_many_steps_stay_one_short_block() -> None:
    calls: list[Event] = []
    for i in range(12):
        calls += [
            ToolCalled(agent="bot", call_id=f"c{i}", name=f"tool{i}", arguments="{}"),
            ToolResultReturned(agent="bot", call_id=f"c{i}", name=f"tool{i}", content="ok"),
        ]
    # Steps that come in batches, each batch after the previous one is in Slack.
    async with FakeSlackAPI() as slack:

        async def written(index: int) -> None:
            await slack.wait_until(lambda: len(slack.calls_to("chat.postMessage")) == 1)

        messages = await play(slack, RecordedClient(calls[:4], calls[4:], between=written))
        updates = slack.calls_to("chat.update")
    [steps, answer] = messages
    lines = steps.blocks[0]["elements"][0]["text"].splitlines()
    assert lines[0] == "_4 earlier steps_"
    assert lines[1:] == [f":white_check_mark: *bot* · `tool{i}`" for i in range(4, 12)]
    assert updates  # the block was edited in place, not posted again
    assert answer.text == "_The team finished without an answer._"


async def test_a_question_already_in_the_answer_is_not_repeated() -> None:
    question = "Which size do you need?"
    recorded = RecordedClient(
        [
            *text("clerk", question),
            InputRequested(agent="clerk", prompt=question),
            RunEnded(agent="team", stop_reason="input requested by clerk"),
        ]
    )
    async with FakeSlackAPI() as slack:
        [message] = await play(slack, recorded)
    assert message.text == f"{question}\n\n_Reply in this thread to answer._"


async def test_a_failed_run_keeps_its_text_and_apologises() -> None:
    recorded = RecordedClient(
        [
            *text("bot", "Half of an"),
            RunFailed(agent="team", code="upstream_timeout", message="The model timed out."),
        ]
    )
    async with FakeSlackAPI() as slack:
        answer, apology = await play(slack, recorded)
    assert answer.text == "Half of an"
    assert apology.text == ":warning: Sorry, the team could not answer. The model timed out."
    assert apology.metadata is not None and apology.metadata["event_payload"]["error"] is True


async def test_a_stream_refused_midway_goes_on_by_editing_the_message() -> None:
    async with FakeSlackAPI(status_error="not_in_assistant_thread") as slack:

        async def refuse_streaming(index: int) -> None:
            await slack.wait_until(lambda: bool(slack.calls_to("chat.startStream")))
            slack.streaming = False  # the stream expired, say

        recorded = RecordedClient(
            text("bot", "One two three "), text("bot", "four five six."), between=refuse_streaming
        )
        [message] = await play(slack, recorded)
        status_calls = slack.calls_to("assistant.threads.setStatus")
        updates = slack.calls_to("chat.update")
    assert message.text == "One two three four five six."
    assert updates[-1].args["markdown_text"] == message.text
    assert message.metadata is not None
    # Outside an assistant thread the status is tried once, then left alone.
    assert [c.error for c in status_calls] == ["not_in_assistant_thread"]


async def test_a_turn_cut_off_by_shutdown_still_ends_its_message() -> None:
    shutdown = anyio.CancelScope()
    async with FakeSlackAPI() as slack:

        async def hang(index: int) -> None:
            await slack.wait_until(lambda: bool(slack.calls_to("chat.startStream")))
            shutdown.cancel()  # the adapter's shutdown grace ran out, mid-answer
            await anyio.sleep_forever()

        recorded = RecordedClient(text("bot", "Part of the answer"), [], between=hang)
        web = AsyncWebClient(token="xoxb-test", base_url=slack.base_url)
        turn = SlackTurn(web, PLACE, team="team", interval=0.01)
        with shutdown:
            await turn.play(recorded, "go", conversation_id=CONVERSATION)
        await recorded.aclose()
        assert shutdown.cancelled_caught
        [message] = slack.thread(PLACE.channel, PLACE.thread_ts)
        status = slack.calls_to("assistant.threads.setStatus")
    assert message.text == "Part of the answer\n\n_(interrupted)_"
    assert not message.streaming and message.metadata is not None
    assert status[-1].args["status"] == ""
