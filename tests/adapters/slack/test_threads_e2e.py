"""Mentions, thread replies, the team's work and questions: real adapter, real server.

Each test talks in its own channel, so what another test left running never
shows up in its threads.
"""

from __future__ import annotations

import pytest

from tests.adapters.slack.conftest import (
    ALICE,
    WRITERS_CHANNEL,
    SlackEvents,
    Stack,
    finished,
    mention,
    message,
    turn_of,
    turns_done,
)
from tests.fakes.slack_api import TEAM_ID, FakeSlackAPI

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


def calls_in(slack: FakeSlackAPI, channel: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (call.method, call.args)
        for call in slack.calls
        if channel in (call.args.get("channel"), call.args.get("channel_id"))
    ]


async def test_a_mention_streams_the_answer_into_its_thread(
    slack: FakeSlackAPI, events: SlackEvents
) -> None:
    ts = "1800000001.000100"
    response = await events.event(mention("C0CALC", ts, "What is 6*7?"))
    assert response.status_code == 200
    await slack.wait_until(lambda: turns_done(slack, "C0CALC", ts) == 1)

    steps, answer = slack.thread("C0CALC", ts)
    # The tool call is one compact context block: agent, tool, ok.
    assert steps.blocks == [
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": ":white_check_mark: *assistant* · `calculator`"}
            ],
        }
    ]
    assert answer.streamed and not answer.streaming
    assert answer.text == "The calculator tool says: 42."
    assert turn_of(answer) == {
        "team": "assistant",
        "conversation_id": f"slack:{TEAM_ID}:C0CALC:{ts}",
        "stop_reason": "maximum number of turns 1 reached",
        "error": False,
    }
    calls = calls_in(slack, "C0CALC")
    # The status says the team is at work from the start, and is cleared at the very end.
    assert calls[0] == (
        "assistant.threads.setStatus",
        {"channel_id": "C0CALC", "thread_ts": ts, "status": "is thinking…"},
    )
    assert calls[-1][0] == "assistant.threads.setStatus" and calls[-1][1]["status"] == ""
    start = next(args for method, args in calls if method == "chat.startStream")
    assert start["thread_ts"] == ts
    assert (start["recipient_user_id"], start["recipient_team_id"]) == (ALICE, TEAM_ID)
    # The answer is written by a few stream calls, not one call per token.
    writes = [m for m, _ in calls if m.startswith("chat.")]
    assert writes.count("chat.startStream") == 1 and writes.count("chat.stopStream") == 1
    assert len(writes) <= 6


async def test_a_reply_in_the_thread_continues_the_conversation(
    slack: FakeSlackAPI, events: SlackEvents
) -> None:
    ts = "1800000002.000100"
    await events.event(mention("C0FOLLOW", ts, "What is 2+3?"))
    await slack.wait_until(lambda: turns_done(slack, "C0FOLLOW", ts) == 1)
    # No mention needed in a thread the bot is in.
    await events.event(
        message("C0FOLLOW", "1800000002.000200", "And what do you think?", thread_ts=ts)
    )
    await slack.wait_until(lambda: turns_done(slack, "C0FOLLOW", ts) == 2)

    first, second = finished(slack, "C0FOLLOW", ts)
    assert first.text == "The calculator tool says: 5."
    ids = {turn_of(first)["conversation_id"], turn_of(second)["conversation_id"]}
    assert ids == {f"slack:{TEAM_ID}:C0FOLLOW:{ts}"}
    # The demo model says this only when the conversation already holds its earlier
    # answer: the server continued the thread's conversation, it did not start anew.
    assert second.text.startswith("Here is another thought on “And what do you think?”")


async def test_a_multi_agent_team_names_its_speakers(
    slack: FakeSlackAPI, events: SlackEvents
) -> None:
    ts = "1800000003.000100"
    await events.event(mention(WRITERS_CHANNEL, ts, "A haiku about tea"))
    await slack.wait_until(lambda: turns_done(slack, WRITERS_CHANNEL, ts) == 1)

    [answer] = slack.thread(WRITERS_CHANNEL, ts)  # no tools: no steps block
    assert turn_of(answer)["team"] == "writers"
    assert answer.text.startswith("**writer:** This is the offline demo model")
    assert "\n\n**critic:** Clear and to the point. APPROVE" in answer.text


async def test_a_question_from_the_team_is_answered_in_the_thread(
    slack: FakeSlackAPI, stack: Stack
) -> None:
    events = SlackEvents(stack.interview_adapter)
    ts = "1800000004.000100"
    await events.event(mention("C0ASK", ts, "Plan my day"))
    await slack.wait_until(lambda: turns_done(slack, "C0ASK", ts) == 1)
    [question] = finished(slack, "C0ASK", ts)
    assert question.text == (
        "**interviewer asks:** Which city are you in?\n\n_Reply in this thread to answer._"
    )
    assert turn_of(question)["stop_reason"] == "input requested by interviewer"

    await events.event(message("C0ASK", "1800000004.000200", "Lisbon", thread_ts=ts))
    await slack.wait_until(lambda: turns_done(slack, "C0ASK", ts) == 2)
    _, answer = finished(slack, "C0ASK", ts)
    assert answer.text == "Thanks! In Lisbon you should visit the old town."
    assert turn_of(answer)["conversation_id"] == turn_of(question)["conversation_id"]
    await events.aclose()


async def test_slash_command_and_buttons_choose_a_channel_team(
    slack: FakeSlackAPI, events: SlackEvents
) -> None:
    listing = await events.command("", "C0PICK", slack_port=slack.port)
    assert listing.status_code == 200
    blocks = listing.json()["blocks"]
    assert blocks[0]["text"]["text"] == "This channel talks to team *assistant*. Choose another:"
    buttons = [b["accessory"] for b in blocks[1:]]
    assert [(b["value"], b["text"]["text"]) for b in buttons][:3] == [
        ("assistant", "Chosen"),
        ("writers", "Choose"),
        ("pipeline", "Choose"),
    ]

    unknown = await events.command("poets", "C0PICK", slack_port=slack.port)
    # A plain-text answer to a command: Slack shows it to the one who typed it.
    assert unknown.text.startswith(
        "There is no team `poets`. The server has: `assistant`, `writers`,"
    )

    chosen = await events.command("writers", "C0PICK", slack_port=slack.port)
    assert chosen.json()["response_type"] == "in_channel"
    assert chosen.json()["text"].startswith(f"<@{ALICE}> chose team *writers*")
    ts = "1800000005.000100"
    await events.event(mention("C0PICK", ts, "A poem about rain"))
    await slack.wait_until(lambda: turns_done(slack, "C0PICK", ts) == 1)
    assert turn_of(finished(slack, "C0PICK", ts)[0])["team"] == "writers"

    # The listing's buttons do the same, through Slack's interactivity.
    clicked = await events.action(
        {
            "type": "block_actions",
            "token": "legacy-verification-token",
            "api_app_id": "A0TROUPE",
            "team": {"id": TEAM_ID},
            "user": {"id": ALICE, "team_id": TEAM_ID},
            "channel": {"id": "C0PICK2"},
            "container": {"type": "message", "channel_id": "C0PICK2", "is_ephemeral": True},
            "response_url": f"{slack.url}/response/picker",
            "trigger_id": "1.2.3",
            "actions": [
                {
                    "type": "button",
                    "action_id": "troupe_choose_team_1",
                    "block_id": "pick",
                    "value": "writers",
                    "action_ts": "1800000005.000300",
                }
            ],
        }
    )
    assert clicked.status_code == 200
    await slack.wait_until(lambda: bool(slack.responses))
    assert slack.responses[0]["replace_original"] is True
    assert slack.responses[0]["text"].startswith("Team *writers* now answers in this channel")
    ts = "1800000005.000400"
    await events.event(mention("C0PICK2", ts, "A poem about snow"))
    await slack.wait_until(lambda: turns_done(slack, "C0PICK2", ts) == 1)
    assert turn_of(finished(slack, "C0PICK2", ts)[0])["team"] == "writers"
