"""``chat(...)`` in AppTest against a real `troupe serve` on the offline demo model."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.adapters.real_teams import TeamServer as TroupeServer
from troupe.adapters.streamlit._view import NOT_KEPT

pytestmark = pytest.mark.e2e


def one_chat(url: str, api_key: str | None, team: str) -> None:
    from troupe.adapters.streamlit import chat

    chat(url, team, key="main", api_key=api_key)


def two_chats(url: str, api_key: str) -> None:
    import streamlit as st

    from troupe.adapters.streamlit import chat

    left, right = st.columns(2)
    with left:
        chat(url, "solo", key="left", api_key=api_key, height=400)
    with right:
        chat(url, "solo", key="right", api_key=api_key, height=400)


def app_for(url: str, api_key: str | None, team: str = "solo") -> AppTest:
    return AppTest.from_function(one_chat, args=(url, api_key, team), default_timeout=30).run()


def test_answer_streams_with_the_tool_call_and_the_conversation_continues(
    troupe_server: TroupeServer,
) -> None:
    at = app_for(troupe_server.url, troupe_server.api_key)
    assert at.chat_input[0].placeholder == "Message solo"
    assert at.caption[0].value == "**solo** · new chat"

    at.chat_input[0].set_value("What is 6*7?").run()
    assert not at.exception
    assert [m.name for m in at.chat_message] == ["user", "bot"]
    you, bot = at.chat_message
    assert you.markdown[0].value == "What is 6*7?"
    assert bot.markdown[0].value == "**bot**"
    (status,) = bot.status
    assert (status.label, status.state) == ("`calculator` → `42`", "complete")
    assert [c.value for c in status.code] == ['{\n  "expression": "6*7"\n}', "42"]
    assert bot.markdown[-1].value == "The calculator tool says: 42."
    conversation = at.session_state["main"].conversation_id
    assert conversation.startswith("conv_")
    assert at.query_params["main"] == conversation
    assert at.caption[0].value == f"**solo** · conversation `{conversation}`"

    at.chat_input[0].set_value("And 2+3?").run()
    assert [m.name for m in at.chat_message] == ["user", "bot", "user", "bot"]
    assert at.chat_message[3].status[0].label == "`calculator` → `5`"
    assert at.session_state["main"].conversation_id == conversation

    at.button(key="main:new").click().run()
    assert len(at.chat_message) == 0
    assert at.session_state["main"].conversation_id is None
    assert "main" not in at.query_params
    assert at.caption[0].value == "**solo** · new chat"


def test_each_speaker_has_a_bubble(troupe_server: TroupeServer) -> None:
    at = app_for(troupe_server.url, troupe_server.api_key, team="checked")
    at.chat_input[0].set_value("What is 12*(3+4)?").run()
    assert not at.exception
    assert [m.name for m in at.chat_message] == ["user", "solver", "critic"]
    solver, critic = at.chat_message[1], at.chat_message[2]
    assert solver.status[0].label == "`calculator` → `84`"
    assert solver.markdown[-1].value == "The calculator tool says: 84."
    assert [m.value for m in critic.markdown] == ["**critic**", "Clear and to the point. APPROVE"]


def test_two_chats_on_a_page_keep_their_own_conversations(troupe_server: TroupeServer) -> None:
    at = AppTest.from_function(
        two_chats, args=(troupe_server.url, troupe_server.api_key), default_timeout=30
    ).run()
    at.chat_input(key="left:input").set_value("What is 1+1?").run()
    left, right = at.columns
    assert [m.name for m in left.chat_message] == ["user", "bot"]
    assert len(right.chat_message) == 0
    at.chat_input(key="right:input").set_value("What is 2+2?").run()
    assert left.chat_message[1].status[0].label == "`calculator` → `2`"
    assert at.columns[1].chat_message[1].status[0].label == "`calculator` → `4`"
    ids = at.session_state["left"].conversation_id, at.session_state["right"].conversation_id
    assert ids[0] != ids[1]
    assert (at.query_params["left"], at.query_params["right"]) == ids


def test_a_reloaded_page_continues_the_conversation(troupe_server: TroupeServer) -> None:
    first = app_for(troupe_server.url, troupe_server.api_key)
    first.chat_input[0].set_value("What is 6*7?").run()
    conversation = first.query_params["main"]

    reloaded = AppTest.from_function(
        one_chat, args=(troupe_server.url, troupe_server.api_key, "solo"), default_timeout=30
    )
    reloaded.query_params["main"] = conversation
    reloaded.run()
    assert [m.name for m in reloaded.chat_message] == ["user", "bot"]
    assert reloaded.chat_message[1].status[0].label == "`calculator` → `42`"
    reloaded.chat_input[0].set_value("And 2+3?").run()
    assert reloaded.session_state["main"].conversation_id == conversation

    # A conversation this Streamlit process has not seen (it restarted) still continues.
    unknown = AppTest.from_function(
        one_chat, args=(troupe_server.url, troupe_server.api_key, "solo"), default_timeout=30
    )
    unknown.query_params["main"] = "conv_from_before_a_restart"
    unknown.run()
    assert unknown.chat_message[0].caption[0].value == (
        "Continuing conversation `conv_from_before_a_restart`."
    )
    assert unknown.session_state["main"].conversation_id == "conv_from_before_a_restart"


def test_server_down_shows_what_to_do_and_the_chat_keeps_working(dead_url: str) -> None:
    at = app_for(dead_url, None)
    at.chat_input[0].set_value("hello").run()
    assert not at.exception
    assert [m.name for m in at.chat_message] == ["user", "troupe"]
    assert at.error[0].value == (
        f"Cannot reach the troupe server at {dead_url}. Is it running? Check the server URL."
        f"\n\n{NOT_KEPT}"
    )
    at.chat_input[0].set_value("hello again").run()
    assert len(at.error) == 2
    assert [m.name for m in at.chat_message] == ["user", "troupe", "user", "troupe"]


def test_refused_key_and_failed_run_are_shown(troupe_server: TroupeServer) -> None:
    refused = app_for(troupe_server.url, "sk-wrong")
    refused.chat_input[0].set_value("hello").run()
    assert refused.error[0].value.startswith(
        "The troupe server refused the API key. Check the key you configured."
    )

    failed = app_for(troupe_server.url, troupe_server.api_key, team="broken")
    failed.chat_input[0].set_value("hello").run()
    assert not failed.exception
    # The run failed after its stream began: the error is in the agent's bubble.
    assert [m.name for m in failed.chat_message] == ["user", "bot"]
    message = failed.chat_message[1].error[0].value
    assert message.startswith("The run failed: agent 'bot': openai model 'gone'")
    assert message.endswith(NOT_KEPT)
