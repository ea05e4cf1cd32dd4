"""Structured output: the schema reaches the model, a bad answer is sent back, bounded."""

from __future__ import annotations

import msgspec
import pytest

from troupe.agents import AgentTurn, AssistantAgent
from troupe.config import build_teams, read_config
from troupe.errors import ConfigError
from troupe.messages import UserMessage
from troupe.models import ModelCapabilities, ScriptedModel

pytestmark = pytest.mark.anyio


class Verdict(msgspec.Struct):
    approved: bool
    reason: str


async def emit(event: object) -> None:
    return None


async def test_a_msgspec_type_becomes_the_schema_and_bad_answers_are_retried() -> None:
    model = ScriptedModel(["sure, approved!", '{"approved": true, "reason": "clear"}'])
    agent = AssistantAgent("judge", model, output_type=Verdict)
    outcome = await agent.run(AgentTurn(transcript=(UserMessage(content="judge this"),)), emit)
    schema = model.requests[0].output_schema
    assert schema is not None and schema.name == "Verdict" and schema.strict
    assert schema.schema["required"] == ["approved", "reason"]
    feedback = model.requests[1].messages[-1]
    assert "must be JSON matching the Verdict schema" in str(feedback.content)
    final = outcome.messages[-1]
    assert msgspec.json.decode(str(final.content), type=Verdict) == Verdict(
        approved=True, reason="clear"
    )


async def test_retries_are_bounded() -> None:
    model = ScriptedModel(["no", "still no", "never"])
    agent = AssistantAgent("judge", model, output_type=Verdict)
    outcome = await agent.run(AgentTurn(transcript=(UserMessage(content="x"),)), emit)
    assert model.remaining == 0 and outcome.messages[-1].content == "never"


def test_config_schema_and_capability_check() -> None:
    text = """
models:
  m: {provider: demo}
  plain: {provider: openai, model: some-local-model, base_url: "http://127.0.0.1:9/v1", api_key: none,
          capabilities: {structured_output: false, tools: false}}
teams:
  t:
    agents:
      - {name: a, model: m, output_schema: {type: object, properties: {x: {type: integer}}}}
"""
    teams = build_teams(read_config(text, env={}))
    agent = teams["t"].agents[0]
    assert agent.output.schema.schema["properties"] == {"x": {"type": "integer"}}  # type: ignore[attr-defined]
    bad = text.replace(
        "name: a, model: m,", "name: a, model: plain, tools: ['troupe.tools.builtin:calculator'],"
    )
    with pytest.raises(ConfigError) as caught:
        build_teams(read_config(bad, env={}))
    assert "$.teams.t.agents[0].model: agent 'a' needs it, but" in str(caught.value)
    assert ModelCapabilities is not None
