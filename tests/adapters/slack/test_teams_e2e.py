"""Threads survive adapters, approvals are buttons, parallel agents write whole messages.

Against the real ``troupe serve`` of the stack: the ``troupe slack`` process
and adapters started in this process, all pointed at the local Slack Web API.
The adapters keep no map of threads: whichever of them gets a reply, or the
press of a button, continues the thread's conversation.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.adapters.real_teams import CODE
from tests.adapters.slack.conftest import (
    ALICE,
    API_KEY,
    SlackEvents,
    Stack,
    finished,
    in_process_adapter,
    mention,
    message,
    turn_of,
    turns_done,
)
from tests.fakes.slack_api import TEAM_ID, FakeSlackAPI

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


def kept(stack: Stack, conversation_id: str) -> list[tuple[str, str]]:
    """(source, text) of the messages the server keeps for a conversation."""
    response = httpx2.get(
        f"{stack.troupe}/v1/conversations/{conversation_id}",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    if response.status_code == 404:
        return []
    return [
        (item.get("source") or "", item["content"])
        for item in response.json()["transcript"]
        if isinstance(item.get("content"), str)
    ]


def press(
    slack: FakeSlackAPI, channel: str, thread_ts: str, buttons_ts: str, button: dict[str, Any]
) -> dict[str, Any]:
    """The interaction payload Slack sends when ALICE presses ``button``."""
    return {
        "type": "block_actions",
        "token": "legacy-verification-token",
        "api_app_id": "A0TROUPE",
        "team": {"id": TEAM_ID},
        "user": {"id": ALICE, "team_id": TEAM_ID},
        "channel": {"id": channel},
        "container": {
            "type": "message",
            "message_ts": buttons_ts,
            "channel_id": channel,
            "is_ephemeral": False,
            "thread_ts": thread_ts,
        },
        "message": {"type": "message", "ts": buttons_ts, "thread_ts": thread_ts},
        "response_url": f"{slack.url}/response/{buttons_ts}",
        "trigger_id": "1.2.3",
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": "troupe_answer",
                "value": button["value"],
                "text": button["text"],
                "action_ts": "1800000300.000900",
            }
        ],
    }


async def test_another_adapter_and_a_restarted_one_continue_the_thread(
    slack: FakeSlackAPI, stack: Stack
) -> None:
    channel, ts = "C0TWO", "1800000200.000100"
    with in_process_adapter(stack.troupe, "assistant", slack.port) as first:
        one = SlackEvents(first.url)
        await one.event(mention(channel, ts, "What is 2+3?"))
        await slack.wait_until(lambda: turns_done(slack, channel, ts) == 1)
        await one.aclose()
    # The adapter that answered is gone; another one, which never saw the thread, gets the reply.
    with in_process_adapter(stack.troupe, "writers", slack.port) as second:
        two = SlackEvents(second.url)
        await two.event(message(channel, "1800000200.000200", "And you?", thread_ts=ts))
        await slack.wait_until(lambda: turns_done(slack, channel, ts) == 2)
        # A reply in a thread the bot is not in stays unanswered.
        other = "1800000200.000300"
        await two.event(message(channel, "1800000200.000400", "Hi all", thread_ts=other))
        await two.event(mention(channel, "1800000200.000500", "What is 1+1?"))
        await slack.wait_until(lambda: turns_done(slack, channel, "1800000200.000500") == 1)
        await two.aclose()
    first_answer, second_answer = finished(slack, channel, ts)
    assert turn_of(second_answer) == turn_of(first_answer) | {
        "stop_reason": "maximum number of turns 1 reached"
    }
    # The thread keeps its team (assistant), though the second adapter's default is writers.
    assert turn_of(second_answer)["team"] == "assistant"
    assert second_answer.text.startswith("Here is another thought on “And you?”")
    assert slack.thread(channel, other) == []
    assert kept(stack, f"slack:{TEAM_ID}:{channel}:{other}") == []


async def test_an_approval_is_answered_with_a_signed_button_press(
    slack: FakeSlackAPI, stack: Stack, events: SlackEvents
) -> None:
    channel, ts = "C0CODE", "1800000300.000100"
    await events.command("coding", channel, slack_port=slack.port)
    await events.event(mention(channel, ts, CODE))
    await slack.wait_until(lambda: turns_done(slack, channel, ts) == 1)
    question, buttons = slack.thread(channel, ts)
    assert question.text.startswith("**runner asks:** Approve running this code?")
    assert question.text.endswith("_Answer with a button below, or reply in this thread._")
    [actions] = buttons.blocks
    approve, reject = actions["elements"]
    assert (approve["text"]["text"], approve["value"], approve["style"]) == (
        "Approve",
        "approve",
        "primary",
    )
    assert (reject["text"]["text"], reject["value"], reject["style"]) == (
        "Reject",
        "reject",
        "danger",
    )

    # Pressed; Slack delivers the press to another adapter process than the one that asked.
    with in_process_adapter(stack.troupe, "assistant", slack.port) as other:
        elsewhere = SlackEvents(other.url)
        pressed = await elsewhere.action(press(slack, channel, ts, buttons.ts, approve))
        assert pressed.status_code == 200
        await slack.wait_until(lambda: turns_done(slack, channel, ts) == 2)
        await elsewhere.aclose()
    [response] = [r for r in slack.responses if r["id"] == buttons.ts]
    assert response["replace_original"] is True
    assert response["text"] == f"<@{ALICE}> chose *Approve*."
    answer = finished(slack, channel, ts)[-1]
    assert turn_of(answer)["team"] == "coding"
    assert answer.text == "exit code 0\n42\n"
    conversation = turn_of(answer)["conversation_id"]
    assert ("user", "approve") in kept(stack, conversation)

    # A signature Slack did not make is refused: no turn.
    forged = SlackEvents(stack.adapter, secret="not-the-secret")
    refused = await forged.action(press(slack, channel, ts, buttons.ts, reject))
    assert refused.status_code == 401
    await forged.aclose()


async def test_parallel_branches_are_whole_messages_in_the_answer(
    slack: FakeSlackAPI, stack: Stack, events: SlackEvents
) -> None:
    channel, ts = "C0GRAPH", "1800000400.000100"
    await events.command("pipeline", channel, slack_port=slack.port)
    await events.event(mention(channel, ts, "An essay on tea"))
    await slack.wait_until(lambda: turns_done(slack, channel, ts) == 1)
    [answer] = finished(slack, channel, ts)
    agents = ("outliner", "intro_writer", "body_writer")
    messages = [(s, t) for s, t in kept(stack, turn_of(answer)["conversation_id"]) if s in agents]
    assert answer.text == "\n\n".join(f"**{source}:** {text}" for source, text in messages)
