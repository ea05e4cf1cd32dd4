"""``chat(...)`` in AppTest on every kind of team, against a real ``troupe serve``.

A graph whose branches write at once, a swarm that hands off, a user proxy
that asks, code that waits for approval, and a run stopped mid-tool.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.testing.v1 import AppTest

from tests.adapters.real_teams import CODE, TeamServer
from troupe.adapters import TeamStreamHandler, TurnOutcome
from troupe.adapters.streamlit import _turn
from troupe.adapters.streamlit._turn import play_turn
from troupe.events import ToolCalled

pytestmark = pytest.mark.e2e


def one_chat(url: str, api_key: str, team: str) -> None:
    from troupe.adapters.streamlit import chat

    chat(url, team, key="main", api_key=api_key)


def app_for(server: TeamServer, team: str) -> AppTest:
    return AppTest.from_function(
        one_chat, args=(server.url, server.api_key, team), default_timeout=30
    ).run()


def texts(message: object) -> list[str]:
    """The markdown of a bubble, without the agent's name on top."""
    return [m.value for m in message.markdown][1:]  # type: ignore[attr-defined]


def test_parallel_branches_get_one_whole_bubble_each(troupe_server: TeamServer) -> None:
    at = app_for(troupe_server, "pipeline")
    at.chat_input[0].set_value("An essay on tea").run()
    assert not at.exception
    agents = ["outliner", "intro_writer", "body_writer"]
    assert [m.name for m in at.chat_message] == ["user", *agents]
    kept = troupe_server.transcript(at.session_state["main"].conversation_id)
    shown = [(m.name, "".join(texts(m))) for m in at.chat_message[1:]]
    assert shown == [(source, text) for source, text in kept if source in agents]
    # Drawn again the same way on the next rerun.
    assert [(m.name, "".join(texts(m))) for m in at.run().chat_message[1:]] == shown


def test_a_handoff_shows_the_route_and_no_empty_words(troupe_server: TeamServer) -> None:
    at = app_for(troupe_server, "support")
    at.chat_input[0].set_value("A question about my billing invoice").run()
    assert not at.exception
    assert [m.name for m in at.chat_message] == ["user", "triage", "billing"]
    triage, billing = at.chat_message[1], at.chat_message[2]
    assert texts(triage) == []  # triage only handed off: no text of its own
    assert triage.status[0].label.startswith("`transfer_to_billing` →")
    assert triage.caption[-1].value.startswith(
        ":material/swap_horiz: **triage** hands off to **billing**"
    )
    assert texts(billing) and "billing invoice" in texts(billing)[0]


def test_the_team_asks_and_the_chat_input_answers(troupe_server: TeamServer) -> None:
    at = app_for(troupe_server, "booking")
    at.chat_input[0].set_value("Book a table for tonight").run()
    assert at.chat_message[-1].name == "guest"
    assert at.chat_message[-1].info[0].value == "How many people are coming?"
    assert at.chat_input[0].placeholder == "Answer guest: How many people are coming?"
    assert len(at.button) == 1  # "New chat": a question is answered in words, not buttons

    at.chat_input[0].set_value("4").run()
    kept = troupe_server.transcript(at.session_state["main"].conversation_id)
    assert ("guest", "4") in kept  # the same conversation: the answer is the proxy's
    assert [m.name for m in at.chat_message][-2:] == ["host", "guest"]


def test_approve_and_reject_are_buttons(troupe_server: TeamServer) -> None:
    at = app_for(troupe_server, "coding")
    at.chat_input[0].set_value(CODE).run()
    runner = at.chat_message[-1]
    assert runner.name == "runner"
    assert runner.info[0].value.startswith("Approve running this code?")
    approve, reject = at.button(key="main:choice:0"), at.button(key="main:choice:1")
    assert (approve.label, reject.label) == ("Approve", "Reject")

    approve.click().run()
    assert not at.exception
    assert at.chat_message[-2].markdown[0].value == "approve"  # sent as the user's answer
    runner = at.chat_message[-1]
    (code,) = runner.status
    assert (code.label, code.state) == ("`python code` → `42…`", "complete")
    assert [c.value for c in code.code] == ["print(6 * 7)", "42\n(exit code 0)"]
    assert texts(runner) == ["exit code 0\n42"]
    assert len(at.button) == 1  # answered: the buttons are gone

    at.chat_input[0].set_value(CODE).run()
    at.button(key="main:choice:1").click().run()
    assert texts(at.chat_message[-1]) == ["The user rejected running the code: no reason given"]


def test_a_stopped_turn_closes_its_request_and_the_server_stops(
    troupe_server: TeamServer,
) -> None:
    class StopAtTheTool(TeamStreamHandler):
        async def on_tool_call(self, event: ToolCalled) -> None:
            raise StopException()  # what Streamlit raises when the user presses stop

    with pytest.raises(StopException):
        play_turn(
            StopAtTheTool(),
            troupe_server.url,
            "clock",
            "What time is it?",
            api_key=troupe_server.api_key,
        )
    # The slow clock notes its cancellation: the server stopped the run.
    deadline = time.monotonic() + 10
    while not troupe_server.cancelled.exists():
        assert time.monotonic() < deadline, "the server did not cancel the tool"
        time.sleep(0.05)


def test_a_bug_in_a_turn_becomes_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(_turn.TeamClient):
        async def stream(self, *args: object, **kwargs: object) -> AsyncIterator[Any]:
            raise ValueError("boom")
            yield

    monkeypatch.setattr(_turn, "TeamClient", Broken)
    errors: list[str] = []

    class Errors(TeamStreamHandler):
        async def on_error(self, message: str, code: str | None = None) -> None:
            errors.append(message)

    outcome = play_turn(Errors(), "http://127.0.0.1:9", "solo", "hello")
    assert outcome == TurnOutcome(error="Unexpected error: ValueError: boom")
    assert errors == ["Unexpected error: ValueError: boom"]
