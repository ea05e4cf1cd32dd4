"""The model context policy: all, the last N messages, a token budget; calls stay with results."""

from __future__ import annotations

import msgspec
import pytest

from troupe.agents._context import ContextPolicy, apply_context_policy, estimate_tokens
from troupe.messages import (
    AssistantMessage,
    ImagePart,
    Message,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    UserMessage,
)

SYSTEM = SystemMessage(content="You are terse.", source="bot")


def user(text: str) -> UserMessage:
    return UserMessage(content=text)


def said(text: str) -> AssistantMessage:
    return AssistantMessage(content=text, source="bot")


def calls(*ids: str) -> AssistantMessage:
    return AssistantMessage(
        source="bot", tool_calls=tuple(ToolCall(id=i, name="lookup", arguments="{}") for i in ids)
    )


def result(call_id: str, text: str = "found") -> ToolMessage:
    return ToolMessage(call_id=call_id, name="lookup", content=text, source="bot")


VIEW: tuple[Message, ...] = (
    SYSTEM,
    user("first question"),
    said("first answer"),
    user("second question"),
    calls("c1", "c2"),
    result("c1"),
    result("c2"),
    said("second answer"),
    user("third question"),
)


def test_the_default_policy_keeps_everything_as_is() -> None:
    assert apply_context_policy(VIEW, ContextPolicy()) is VIEW


def test_last_messages_keeps_the_newest_and_the_system_message() -> None:
    kept = apply_context_policy(VIEW, ContextPolicy(last_messages=2))
    assert kept == (SYSTEM, said("second answer"), user("third question"))


@pytest.mark.parametrize("n", [3, 4, 5])
def test_a_tool_call_is_never_split_from_its_results(n: int) -> None:
    kept = apply_context_policy(VIEW, ContextPolicy(last_messages=n))
    # Taking the call would mean taking its two results too: more than n allows, until n = 5.
    expected = VIEW[4:] if n >= 5 else VIEW[-2:]
    assert kept == (SYSTEM, *expected)


def test_the_newest_group_is_kept_even_when_it_alone_is_over_the_limit() -> None:
    view = (SYSTEM, user("q"), calls("a", "b", "c"), result("a"), result("b"), result("c"))
    assert apply_context_policy(view, ContextPolicy(last_messages=1)) == (SYSTEM, *view[2:])


def test_a_token_budget_counts_the_system_message_first() -> None:
    budget = sum(estimate_tokens(m) for m in (SYSTEM, VIEW[-2], VIEW[-1]))
    kept = apply_context_policy(VIEW, ContextPolicy(token_budget=budget))
    assert kept == (SYSTEM, said("second answer"), user("third question"))
    smaller = apply_context_policy(VIEW, ContextPolicy(token_budget=budget - 1))
    assert smaller == (SYSTEM, user("third question"))


def test_both_limits_hold_together() -> None:
    policy = ContextPolicy(last_messages=8, token_budget=40)
    kept = apply_context_policy(VIEW, policy)
    assert sum(estimate_tokens(m) for m in kept) <= 40
    assert kept[0] == SYSTEM and kept[-1] == user("third question")


def test_system_messages_anywhere_are_kept_in_place() -> None:
    late = SystemMessage(content="Now answer in French.")
    view = (*VIEW[:3], late, *VIEW[3:])
    kept = apply_context_policy(view, ContextPolicy(last_messages=1))
    assert kept == (SYSTEM, late, user("third question"))


def test_a_stray_result_never_starts_what_is_kept() -> None:
    view = (SYSTEM, user("q"), said("a"), result("lost"), user("next"))
    kept = apply_context_policy(view, ContextPolicy(last_messages=2))
    assert kept == (SYSTEM, user("next"))
    assert not isinstance(
        apply_context_policy(view, ContextPolicy(last_messages=3))[1], ToolMessage
    )


def test_estimates_grow_with_text_calls_and_images() -> None:
    short, long = estimate_tokens(user("hi")), estimate_tokens(user("hi " * 400))
    assert short < 10 and 290 < long < 320  # about four characters a token
    assert estimate_tokens(calls("a", "b")) > estimate_tokens(calls("a"))
    image = UserMessage(content=(TextPart(text="this?"), ImagePart(url="https://x/cat.png")))
    low = UserMessage(content=(TextPart(text="this?"), ImagePart(url="https://x/c", detail="low")))
    assert estimate_tokens(image) > estimate_tokens(low) > estimate_tokens(user("this?"))


def test_the_policy_is_config_shaped() -> None:
    policy = msgspec.convert({"last_messages": 20}, ContextPolicy)
    assert policy == ContextPolicy(last_messages=20)
    with pytest.raises(msgspec.ValidationError, match="unknown field `last`"):
        msgspec.convert({"last": 20}, ContextPolicy)
    with pytest.raises(msgspec.ValidationError, match=">= 1"):
        msgspec.convert({"token_budget": 0}, ContextPolicy)
