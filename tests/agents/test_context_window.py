"""Head-and-tail and token-budget context policies; the model's window and tokenizer."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest
import tiktoken

from tests.agents.test_context import SYSTEM, VIEW, said, user
from troupe.agents import AgentTurn, AssistantAgent, ContextPolicy, apply_context_policy
from troupe.agents._context import estimate_tokens
from troupe.agents._tokens import _tiktoken, token_counter
from troupe.events import Event
from troupe.messages import UserMessage, text_of
from troupe.models import ModelCapabilities, ScriptedModel


def test_head_and_tail_keeps_the_task_and_the_newest_and_says_what_was_skipped() -> None:
    kept = apply_context_policy(VIEW, ContextPolicy(head_messages=1, last_messages=2))
    assert [text_of(m) for m in kept] == [
        text_of(SYSTEM),
        "first question",
        "Skipped 5 messages.",
        "second answer",
        "third question",
    ]
    # Nothing skipped, nothing said.
    short = (SYSTEM, user("a"), said("b"))
    assert apply_context_policy(short, ContextPolicy(head_messages=1, last_messages=5)) == short


class _Model(ScriptedModel):
    provider = "openai"


async def _drop(event: Event) -> None:
    return None


@pytest.mark.anyio
async def test_token_budget_auto_fits_the_models_context_window() -> None:
    history = tuple(UserMessage(content="word " * 40) for _ in range(10))  # ~54 tokens each
    for window, expected in ((200, 2), (2000, 10), (None, 10)):
        model = ScriptedModel(["ok"], capabilities=ModelCapabilities(context_window=window))
        agent = AssistantAgent(
            "bot", model, system_message=None, context=ContextPolicy(token_budget="auto")
        )
        await agent.run(AgentTurn(transcript=history), _drop)
        assert len(model.requests[0].messages) == expected, window


def _bytes_encoding() -> tiktoken.Encoding:
    """A real tiktoken encoding with one token per byte (no download needed)."""
    return tiktoken.Encoding(
        name="bytes",
        pat_str=r"\S+|\s+",
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={},
    )


def test_openai_models_are_counted_with_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    _tiktoken.cache_clear()
    asked: list[str] = []

    def encoding_for_model(name: str) -> Any:
        asked.append(name)
        return _bytes_encoding()

    monkeypatch.setattr(tiktoken, "encoding_for_model", encoding_for_model)
    count = token_counter(_Model([], name="gpt-4o"))
    message = user("hello world")
    assert count(message) == estimate_tokens(message) - 3 + len("hello world")
    assert asked == ["gpt-4o"]
    token_counter(_Model([], name="gpt-4o"))
    assert asked == ["gpt-4o"]  # looked up once per model name
    # Other providers are estimated.
    assert token_counter(ScriptedModel([])) is estimate_tokens
    _tiktoken.cache_clear()


def test_a_tokenizer_that_cannot_load_falls_back_to_the_estimate(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _tiktoken.cache_clear()

    def offline(name: str) -> Any:
        raise ConnectionError("no network")

    monkeypatch.setattr(tiktoken, "encoding_for_model", offline)
    with caplog.at_level(logging.WARNING, logger="troupe.agents"):
        assert token_counter(_Model([], name="gpt-4o")) is estimate_tokens
    assert "tokens are estimated" in caplog.text
    _tiktoken.cache_clear()


@pytest.mark.anyio
async def test_an_agent_with_a_budget_counts_with_its_tokenizer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _tiktoken.cache_clear()
    monkeypatch.setattr(tiktoken, "encoding_for_model", lambda name: _bytes_encoding())
    model = _Model(["ok"], name="gpt-4o")
    agent = AssistantAgent(
        "bot", model, system_message=None, context=ContextPolicy(token_budget=60)
    )
    # 40 bytes each: about 14 tokens estimated, 44 counted: only the newest fits.
    history = tuple(UserMessage(content="x" * 40) for _ in range(3))
    await agent.run(AgentTurn(transcript=history), _drop)
    assert len(model.requests[0].messages) == 1
    _tiktoken.cache_clear()


def test_the_policy_fields_in_config() -> None:
    policy = msgspec.convert(
        {"head_messages": 1, "last_messages": 4, "token_budget": "auto"}, ContextPolicy
    )
    assert policy.budget(128_000) == 128_000 - 4096
    assert policy.budget(8000) == 6000
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"token_budget": "most"}, ContextPolicy)
