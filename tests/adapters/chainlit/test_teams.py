"""The Chainlit adapter on every kind of team, against a real ``troupe serve``.

A graph whose branches write at once, a swarm that hands off, a user proxy
that asks, and code that waits for approval, with its approve / reject
buttons. Chainlit's real ``Message``, ``Step`` and ``Action`` objects render
into ``Page``, which applies their socket events as the browser does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import chainlit as cl
import pytest

from tests.adapters.chainlit._page import open_page, user_says
from tests.adapters.real_teams import CODE, TeamServer, team_server
from troupe.adapters import TurnOutcome
from troupe.adapters.chainlit import TroupeChainlit

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-chainlit-teams"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    with team_server(tmp_path_factory.mktemp("chainlit-teams"), KEY) as running:
        yield running


async def ask(troupe: TroupeChainlit, text: str) -> TurnOutcome:
    """One user message, answered inside an ``on_message`` run as Chainlit does it."""
    user = await user_says(text)
    async with cl.Step(name="on_message", type="run", parent_id=user.id):
        return await troupe.reply(user)


@pytest.fixture
async def troupe(server: TeamServer) -> AsyncIterator[TroupeChainlit]:
    connected = TroupeChainlit(server.url, api_key=server.api_key)
    yield connected
    await connected.aclose()


async def test_parallel_branches_are_whole_messages_under_their_names(
    server: TeamServer, troupe: TroupeChainlit
) -> None:
    page = open_page(chat_profile="pipeline")
    outcome = await ask(troupe, "An essay on tea")
    assert outcome.ok and outcome.conversation_id
    agents = ["outliner", "intro_writer", "body_writer"]
    kept = [(s, t) for s, t in server.transcript(outcome.conversation_id) if s in agents]
    assert page.shown() == [
        ("assistant_message", source, f"**{source}:** {text}") for source, text in kept
    ]


async def test_a_handoff_is_a_step_and_a_line_without_an_empty_message(
    server: TeamServer, troupe: TroupeChainlit
) -> None:
    page = open_page(chat_profile="support")
    await ask(troupe, "A question about my billing invoice")
    shown = page.shown()
    assert shown[0][:2] == ("tool", "transfer_to_billing")
    assert shown[1][:2] == ("assistant_message", "triage")
    assert shown[1][2].startswith("*triage hands off to billing*")
    assert shown[2][:2] == ("assistant_message", "billing")
    assert shown[2][2].startswith("**billing:** ")
    assert len(shown) == 3


async def test_the_team_asks_and_the_next_message_answers(
    server: TeamServer, troupe: TroupeChainlit
) -> None:
    page = open_page(chat_profile="booking")
    asked = await ask(troupe, "Book a table for tonight")
    assert asked.input_requested is not None
    assert page.shown()[-1] == ("assistant_message", "guest", "How many people are coming?")
    assert page.actions == {}  # a question is answered in words: no buttons
    answered = await ask(troupe, "4")
    assert answered.conversation_id == asked.conversation_id
    assert ("guest", "4") in server.transcript(answered.conversation_id or "")


async def test_approve_and_reject_are_buttons_that_answer(
    server: TeamServer, troupe: TroupeChainlit
) -> None:
    page = open_page(chat_profile="coding")
    await ask(troupe, CODE)
    question = page.of_type("assistant_message")[-1]
    assert question["output"].startswith("Approve running this code?")
    approve, reject = page.buttons(question["id"])
    assert (approve.label, approve.payload) == ("Approve", {"answer": "approve"})
    assert (reject.label, reject.payload) == ("Reject", {"answer": "reject"})

    outcome = await troupe.answer(approve)
    assert outcome.ok
    assert page.actions == {}  # answered: the buttons are gone
    assert page.of_type("user_message")[-1]["output"] == "approve"
    code = page.of_type("tool")[-1]
    assert code["name"] == "python code" and code["input"].strip() == "print(6 * 7)"
    assert "42" in code["output"] and not code["isError"]

    await ask(troupe, CODE)
    question = page.of_type("assistant_message")[-1]
    page.buttons(question["id"])  # buttons again, for the new question
    await ask(troupe, "reject: not today")  # words answer it too, and the buttons go
    assert page.actions == {}
    assert page.shown()[-1] == (
        "assistant_message",
        "runner",
        "The user rejected running the code: not today",
    )
