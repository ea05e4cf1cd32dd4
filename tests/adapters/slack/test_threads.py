"""The bookkeeping behind threads: conversation ids, duplicates, text, settings."""

from __future__ import annotations

import re

import pytest

from troupe.adapters.slack._settings import SlackSettings, parse_channel_teams
from troupe.adapters.slack._threads import (
    Recent,
    clean_text,
    conversation_id,
    split_point,
)

# The server's rule for ids it accepts in X-Conversation-Id.
SERVER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def test_each_thread_is_its_own_conversation() -> None:
    one = conversation_id("T01", "C01", "1700000000.000100")
    assert one == "slack:T01:C01:1700000000.000100"
    assert conversation_id("T01", "C01", "1700000000.000200") != one
    assert conversation_id("T01", "C02", "1700000000.000100") != one
    odd = conversation_id("T/01", "C01", "1700000000.000100")
    assert SERVER_ID.match(odd) and SERVER_ID.match(conversation_id("T" * 200, "C", "1.0"))
    assert conversation_id("", "D01", "1.0") == "slack:-:D01:1.0"


def test_message_text_loses_the_mention_and_slack_escapes() -> None:
    raw = "<@U0BOT> is 3 &lt; 4 &amp;&amp; 5 &gt; 2? ask <@U0ALICE>, &amp;lt; stays"
    assert clean_text(raw, "U0BOT") == "is 3 < 4 && 5 > 2? ask <@U0ALICE>, &lt; stays"
    assert clean_text("<@U0BOT|troupe>  hi ", "U0BOT") == "hi"


def test_split_points_prefer_paragraphs_then_lines_then_spaces() -> None:
    assert split_point("short", 10, can_wait=False) == 5
    assert split_point("aaaa\n\nbbbb cccc", 12, can_wait=False) == 11  # space beats an early break
    assert split_point("aaaaaaa\n\nbbbb cc", 12, can_wait=False) == 9
    assert split_point("aaaaaaa\nbbbbbb", 10, can_wait=False) == 8
    assert split_point("x" * 30, 10, can_wait=False) == 10
    assert split_point("x" * 30, 10, can_wait=True) == 0  # rather start a new message


def test_a_delivery_is_recognised_again() -> None:
    seen = Recent(size=3)
    assert seen.add("Ev1") and not seen.add("Ev1")
    for key in ("Ev2", "Ev3", "Ev4"):
        assert seen.add(key)
    assert seen.add("Ev1")  # the oldest is forgotten when the set is full
    expiring = Recent(ttl=0.0)
    assert expiring.add("Ev1") and expiring.add("Ev1")


def test_settings_from_the_environment() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "TROUPE_SLACK_TEAM": "support",
        "TROUPE_SLACK_CHANNELS": "C1=billing, C2=sales",
        "SLACK_API_URL": "http://gateway.internal/api",
    }
    settings = SlackSettings.from_env(env=env)
    assert settings.team == "support" and settings.server_url == "http://127.0.0.1:8000"
    assert settings.channel_teams == {"C1": "billing", "C2": "sales"}
    assert settings.api_url == "http://gateway.internal/api/"
    assert SlackSettings.from_env(env={}, team="t", bot_token="b", app_token="xapp").app_token
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET") as missing:
        SlackSettings.from_env(env={}, team="support")
    assert "default team" not in str(missing.value)
    with pytest.raises(ValueError, match="'C1:billing' is not CHANNEL_ID=team"):
        parse_channel_teams(["C1:billing"])
