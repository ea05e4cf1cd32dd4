"""What Slack delivers that must not run a team, and the failures a user must still see.

To show that something did *not* start a turn, each test follows it with a
real message in the same thread: a thread's turns run one after the other in
arrival order, so a wrongly started turn would be over, and counted, by the
time the real one is.
"""

from __future__ import annotations

import time

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.adapters.slack.conftest import (
    SlackEvents,
    Stack,
    finished,
    mention,
    message,
    turn_of,
    turns_done,
)
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, FakeSlackAPI

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_bad_or_stale_signatures_are_refused(
    slack: FakeSlackAPI, events: SlackEvents
) -> None:
    ts = "1800000010.000100"
    forged = await events.event(
        mention("C0SIGN", ts, "What is 1+1?"), signer=SignatureVerifier("not-the-secret")
    )
    assert forged.status_code == 401
    stale = await events.event(
        mention("C0SIGN", ts, "What is 1+1?"), timestamp=int(time.time()) - 600
    )
    assert stale.status_code == 401
    unsigned = await events.http.post(events.url, json={"type": "event_callback"})
    assert unsigned.status_code == 401

    await events.event(mention("C0SIGN", "1800000010.000200", "What is 2+2?", thread_ts=ts))
    await slack.wait_until(lambda: turns_done(slack, "C0SIGN", ts) == 1)
    [answer] = finished(slack, "C0SIGN", ts)
    assert answer.text == "The calculator tool says: 4."


async def test_repeated_deliveries_and_bots_never_run_the_team(
    slack: FakeSlackAPI, events: SlackEvents
) -> None:
    ts = "1800000011.000100"
    asked = mention("C0DUP", ts, "What is 3*3?")
    assert (await events.event(asked, event_id="EvDUP1")).status_code == 200
    # Slack retries when it thinks the app was slow: same event id, X-Slack-Retry-Num.
    assert (await events.event(asked, event_id="EvDUP1", retry=1)).status_code == 200
    assert (await events.event(asked, event_id="EvDUP1", retry=2)).status_code == 200
    # The same message also arrives as a `message` event, with its own event id.
    same = message("C0DUP", ts, f"<@{BOT_USER_ID}> What is 3*3?")
    assert (await events.event(same, event_id="EvDUP2")).status_code == 200
    # Other bots, the bot itself, and edits in the thread are not people talking.
    other_bot = message(
        "C0DUP", "1800000011.000200", "beep", thread_ts=ts, subtype="bot_message", bot_id="B0X"
    )
    itself = message("C0DUP", "1800000011.000300", "hi", thread_ts=ts, user=BOT_USER_ID)
    itself["bot_id"] = BOT_ID
    edit = message("C0DUP", "1800000011.000400", "", thread_ts=ts, subtype="message_changed")
    for event in (other_bot, itself, edit):
        assert (await events.event(event)).status_code == 200
    # A message in a thread the bot is not in, without a mention: not for the bot.
    stranger = "1800000011.000500"
    await events.event(message("C0DUP", stranger, "What is 5*5?"))

    await events.event(message("C0DUP", "1800000011.000600", "What is 4*4?", thread_ts=ts))
    await events.event(mention("C0DUP", "1800000011.000700", "What is 6*6?", thread_ts=stranger))
    await slack.wait_until(
        lambda: turns_done(slack, "C0DUP", ts) == 2 and turns_done(slack, "C0DUP", stranger) == 1
    )
    first, second = finished(slack, "C0DUP", ts)
    assert first.text == "The calculator tool says: 9."
    # (The demo model recalls the conversation's earlier results too.)
    assert second.text.endswith("The calculator tool says: 16.")
    assert [m.text for m in finished(slack, "C0DUP", stranger)] == ["The calculator tool says: 36."]
    starts = [c for c in slack.calls_to("chat.startStream") if c.args["channel"] == "C0DUP"]
    assert len(starts) == 3


async def test_a_server_that_is_down_gets_an_apology(slack: FakeSlackAPI, stack: Stack) -> None:
    events = SlackEvents(stack.down_adapter)
    ts = "1800000012.000100"
    assert (await events.event(mention("C0DOWN", ts, "What is 1+2?"))).status_code == 200
    await slack.wait_until(lambda: turns_done(slack, "C0DOWN", ts) == 1)
    [apology] = slack.thread("C0DOWN", ts)
    assert apology.text.startswith(":warning: Sorry, the team could not answer. ")
    assert "Cannot reach the troupe server" in apology.text
    assert turn_of(apology)["error"] is True
    await events.aclose()


async def test_without_streaming_the_answer_is_posted_then_updated(
    slack: FakeSlackAPI, events: SlackEvents
) -> None:
    slack.streaming = False  # e.g. a Slack-compatible gateway without chat.startStream
    ts = "1800000013.000100"
    await events.event(mention("C0NOSTREAM", ts, "Tell me about green tea"))
    await slack.wait_until(lambda: turns_done(slack, "C0NOSTREAM", ts) == 1)

    [answer] = slack.thread("C0NOSTREAM", ts)
    assert not answer.streamed
    assert answer.text.startswith("This is the offline demo model answering “Tell me about green")
    assert answer.text.endswith("just like with a real model.")
    assert turn_of(answer)["team"] == "assistant"
    refused = [c for c in slack.calls_to("chat.startStream") if c.args["channel"] == "C0NOSTREAM"]
    assert [c.error for c in refused] == ["not_allowed"]  # tried once per turn, not per write
    updates = [c for c in slack.calls_to("chat.update") if c.args["channel"] == "C0NOSTREAM"]
    assert 1 <= len(updates) <= 5
    assert updates[-1].args["markdown_text"] == answer.text
    assert answer.metadata == updates[-1].args["metadata"]
