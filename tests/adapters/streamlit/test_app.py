"""The ready app (`troupe streamlit`) in AppTest against a real `troupe serve`."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.adapters.real_teams import TeamServer as TroupeServer
from troupe.adapters.streamlit._cli import APP

pytestmark = pytest.mark.e2e


def open_app(monkeypatch: pytest.MonkeyPatch, url: str, api_key: str | None) -> AppTest:
    monkeypatch.setenv("TROUPE_SERVER", url)
    if api_key:
        monkeypatch.setenv("TROUPE_API_KEY", api_key)
    else:
        monkeypatch.delenv("TROUPE_API_KEY", raising=False)
    return AppTest.from_file(APP, default_timeout=30)


def test_team_picker_and_a_history_per_team(
    troupe_server: TroupeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_app(monkeypatch, troupe_server.url, troupe_server.api_key).run()
    assert not at.exception
    picker = at.sidebar.radio[0]
    assert (picker.label, picker.options, picker.value) == (
        "Team",
        ["solo", "checked", "clock", "broken", "pipeline", "support", "booking", "coding"],
        "solo",
    )
    assert at.subheader[0].value == "solo"
    assert at.query_params["team"] == "solo"

    at.chat_input[0].set_value("What is 6*7?").run()
    assert at.chat_message[1].status[0].label == "`calculator` → `42`"

    at.sidebar.radio[0].set_value("checked").run()
    assert at.subheader[0].value == "checked"
    assert at.caption[0].value == (
        "A solver with a calculator, and a critic who checks the answer. · Agents: solver, critic"
    )
    assert len(at.chat_message) == 0
    assert at.chat_input[0].placeholder == "Message checked"
    assert at.query_params["team"] == "checked"

    at.sidebar.radio[0].set_value("solo").run()
    assert [m.name for m in at.chat_message] == ["user", "bot"]
    assert at.chat_message[1].markdown[-1].value == "The calculator tool says: 42."


def test_a_failed_run_then_the_app_keeps_working(
    troupe_server: TroupeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_app(monkeypatch, troupe_server.url, troupe_server.api_key)
    at.query_params["team"] = "broken"
    at.run()
    assert at.sidebar.radio[0].value == "broken"
    at.chat_input[0].set_value("hello").run()
    assert at.chat_message[1].error[0].value.startswith("The run failed: agent 'bot'")

    at.sidebar.radio[0].set_value("solo").run()
    at.chat_input[0].set_value("What is 2+2?").run()
    assert not at.exception
    assert at.chat_message[1].markdown[-1].value == "The calculator tool says: 4."


def test_a_reloaded_page_comes_back_to_its_team_and_conversation(
    troupe_server: TroupeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_app(monkeypatch, troupe_server.url, troupe_server.api_key).run()
    at.sidebar.radio[0].set_value("checked").run()
    at.chat_input[0].set_value("What is 3*3?").run()
    url = dict(at.query_params)
    assert url["team"] == "checked" and url["chat-checked"].startswith("conv_")

    reloaded = open_app(monkeypatch, troupe_server.url, troupe_server.api_key)
    reloaded.query_params.update(url)
    reloaded.run()
    assert reloaded.sidebar.radio[0].value == "checked"
    assert [m.name for m in reloaded.chat_message] == ["user", "solver", "critic"]


def test_server_down_or_key_refused_says_what_to_do(
    troupe_server: TroupeServer, dead_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = open_app(monkeypatch, dead_url, None).run()
    assert not down.exception
    assert down.error[0].value.startswith(
        f"Cannot reach the troupe server at {dead_url}. Is it running? Check the server URL."
    )
    assert "troupe streamlit --server URL --api-key KEY" in down.error[0].value
    assert len(down.chat_input) == 0
    down.button[0].click().run()  # "Try again" asks the server again
    assert len(down.error) == 1

    refused = open_app(monkeypatch, troupe_server.url, "sk-wrong").run()
    assert refused.error[0].value.startswith("The troupe server refused the API key.")

    # Once the key is right, "Try again" brings the teams.
    monkeypatch.setenv("TROUPE_API_KEY", troupe_server.api_key)
    refused.button[0].click().run()
    assert len(refused.error) == 0
    assert refused.sidebar.radio[0].value == "solo"
