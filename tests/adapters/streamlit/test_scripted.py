"""Turns no configured team produces yet (a handoff, a question for the user), end to end.

A scripted stand-in server streams them, encoded by ``troupe.wire`` exactly as
``troupe serve`` encodes a team's events; the component decodes and draws them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.adapters.streamlit.conftest import ScriptedServer
from troupe.adapters.streamlit._turn import TurnFailed, stream_turn
from troupe.adapters.streamlit._view import NOT_KEPT
from troupe.events import (
    AgentFinished,
    AgentStarted,
    HandoffOccurred,
    InputRequested,
    RunEnded,
    RunFailed,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)

HANDOFF_AND_QUESTION = [
    AgentStarted(agent="triage", message_id="m1"),
    TextDelta(agent="triage", message_id="m1", text="Let me look "),
    TextDelta(agent="triage", message_id="m1", text="at your account."),
    ToolCalled(agent="triage", call_id="c1", name="lookup_account", arguments='{"account": 7}'),
    ToolResultReturned(
        agent="triage", call_id="c1", name="lookup_account", content="plan: gold\nstatus: ok"
    ),
    HandoffOccurred(agent="triage", target="billing", message="An invoice question."),
    AgentFinished(agent="triage", message_id="m1"),
    AgentStarted(agent="billing", message_id="m2"),
    TextDelta(agent="billing", message_id="m2", text="I can help with invoices."),
    AgentFinished(agent="billing", message_id="m2"),
    InputRequested(agent="billing", prompt="Which invoice number do you mean?"),
    RunEnded(agent="helpdesk", stop_reason="input_requested", conversation_id="conv_scripted"),
]
ANSWER = [
    AgentStarted(agent="billing", message_id="m3"),
    TextDelta(agent="billing", message_id="m3", text="Invoice INV-42 is paid."),
    AgentFinished(agent="billing", message_id="m3"),
    RunEnded(agent="helpdesk", stop_reason="end_turn", conversation_id="conv_scripted"),
]


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer("helpdesk", ["triage", "billing"]) as server:
        yield server


def helpdesk(url: str) -> None:
    from troupe.adapters.streamlit import chat

    chat(url, "helpdesk", key="desk")


def test_handoff_tool_call_and_question_answered_through_the_chat_input(
    scripted: ScriptedServer,
) -> None:
    scripted.turns = [list(HANDOFF_AND_QUESTION), list(ANSWER)]
    at = AppTest.from_function(helpdesk, args=(scripted.url,), default_timeout=20).run()
    assert at.chat_input[0].placeholder == "Message helpdesk"

    at.chat_input[0].set_value("Is my invoice paid?").run()
    assert not at.exception
    assert [m.name for m in at.chat_message] == ["user", "triage", "billing"]
    triage, billing = at.chat_message[1], at.chat_message[2]
    assert [m.value for m in triage.markdown] == ["**triage**", "Let me look at your account."]
    (status,) = triage.status
    assert (status.label, status.state) == ("`lookup_account` → `plan: gold…`", "complete")
    assert [c.value for c in status.code] == ['{\n  "account": 7\n}', "plan: gold\nstatus: ok"]
    assert triage.caption[-1].value == (
        ":material/swap_horiz: **triage** hands off to **billing**: An invoice question."
    )
    assert billing.markdown[1].value == "I can help with invoices."
    assert billing.info[0].value == "Which invoice number do you mean?"
    # The question is the chat input's prompt; the answer continues the conversation.
    assert at.chat_input[0].placeholder == "Answer billing: Which invoice number do you mean?"
    assert at.query_params["desk"] == "conv_scripted"

    at.chat_input[0].set_value("INV-42").run()
    assert not at.exception
    headers, body = scripted.requests[1]
    assert headers["x-conversation-id"] == "conv_scripted"
    assert body["messages"] == [{"role": "user", "content": "INV-42"}]
    assert at.chat_input[0].placeholder == "Message helpdesk"
    assert [m.name for m in at.chat_message] == ["user", "triage", "billing", "user", "billing"]
    assert at.chat_message[-1].markdown[1].value == "Invoice INV-42 is paid."
    # Earlier turns are drawn again as they were streamed.
    assert at.chat_message[1].status[0].label == "`lookup_account` → `plan: gold…`"
    assert at.chat_message[2].info[0].value == "Which invoice number do you mean?"


def test_a_run_failing_during_a_tool_call(scripted: ScriptedServer) -> None:
    scripted.turns = [
        [
            AgentStarted(agent="triage", message_id="m1"),
            ToolCalled(agent="triage", call_id="c1", name="lookup_account", arguments="{}"),
            RunFailed(agent="helpdesk", code="upstream_timeout", message="the model timed out"),
        ]
    ]
    at = AppTest.from_function(helpdesk, args=(scripted.url,), default_timeout=20).run()
    at.chat_input[0].set_value("Is my invoice paid?").run()
    assert not at.exception
    for shown in (at, at.run()):  # as streamed, and drawn again on the next rerun
        triage = shown.chat_message[1]
        status = triage.status[0]
        assert (status.label, status.state) == ("`lookup_account` did not finish", "error")
        assert triage.error[0].value == f"The run failed: the model timed out\n\n{NOT_KEPT}"


def test_closing_a_turn_early_closes_its_request(scripted: ScriptedServer) -> None:
    scripted.turns = [[AgentStarted(agent="billing", message_id="m1"), None]]
    turn = stream_turn(scripted.url, "helpdesk", "hello")
    assert next(turn) == AgentStarted(agent="billing", message_id="m1")
    started = time.monotonic()
    turn.close()  # what a stopped or interrupted script run does
    assert time.monotonic() - started < 5
    assert scripted.disconnected.wait(5), "the server still streams to a closed turn"
    assert not scripted.release.is_set()


def test_a_bug_in_a_turn_becomes_a_message_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    from troupe.adapters.streamlit import _turn

    class Broken(_turn.TeamClient):
        async def stream(self, *args: object, **kwargs: object) -> AsyncIterator[Any]:
            raise ValueError("boom")
            yield

    monkeypatch.setattr(_turn, "TeamClient", Broken)
    items = list(stream_turn("http://127.0.0.1:9", "helpdesk", "hello"))
    assert items == [TurnFailed("Unexpected error: ValueError: boom")]
