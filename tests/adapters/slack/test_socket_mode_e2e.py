"""Socket Mode: the bot connects to Slack (here the fake's WebSocket) instead of being posted to."""

from __future__ import annotations

import time

import anyio
import pytest

from tests.adapters.slack.conftest import (
    API_KEY,
    BOT_TOKEN,
    Stack,
    finished,
    mention,
    message,
    turn_of,
    turns_done,
)
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, FakeSlackAPI
from troupe.adapters.slack import SlackAdapter, SlackSettings

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_socket_mode_answers_events_and_acks_them(slack: FakeSlackAPI, stack: Stack) -> None:
    settings = SlackSettings(
        server_url=stack.troupe,
        api_key=API_KEY,
        team="assistant",
        bot_token=BOT_TOKEN,
        app_token="xapp-troupe-test",
        api_url=slack.base_url,
    )
    adapter = SlackAdapter(settings)
    ts = "1800000020.000100"
    envelope = {
        "team_id": TEAM_ID,
        "api_app_id": "A0TROUPE",
        "event": mention("D0SOCKET", ts, "What is 7*6?"),
        "type": "event_callback",
        "event_id": "EvSOCKET1",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }
    async with anyio.create_task_group() as tg:
        tg.start_soon(adapter.serve_socket_mode)
        await slack.wait_until(lambda: slack.connected)
        ack = await slack.send_envelope(envelope, envelope_id="env-1")
        assert ack["envelope_id"] == "env-1"
        # Slack redelivers when an ack is late; the event id keeps it to one turn.
        await slack.send_envelope(envelope, envelope_id="env-2")
        reply = message("D0SOCKET", "1800000020.000200", "What is 1+1?", thread_ts=ts)
        follow_up = envelope | {"event": reply | {"channel_type": "im"}, "event_id": "EvSOCKET2"}
        await slack.send_envelope(follow_up, envelope_id="env-3")
        await slack.wait_until(lambda: turns_done(slack, "D0SOCKET", ts) == 2)
        tg.cancel_scope.cancel()
    answer, second = finished(slack, "D0SOCKET", ts)
    assert answer.text == "The calculator tool says: 42."
    assert second.text.endswith("The calculator tool says: 2.")
    assert turn_of(answer)["conversation_id"] == f"slack:{TEAM_ID}:D0SOCKET:{ts}"
    assert slack.calls_to("apps.connections.open")[0].token == "xapp-troupe-test"
    assert not adapter.is_running
