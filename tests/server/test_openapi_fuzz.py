"""Schemathesis against the in-process app: generated requests from /openapi.json.

Positive cases (valid by the document) and negative ones (invalid on
purpose): no answer is a 5xx, every answer matches the document (status,
content type, schema), and invalid requests are refused.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.server.conftest import app_for
from troupe.agents import AssistantAgent
from troupe.models import FunctionModel, ModelRequest
from troupe.teams import RoundRobinTeam

# Examples per operation and generation mode: 7 operations x 2 modes x 80 > 1,000 cases.
EXAMPLES = 80


def answer(request: ModelRequest) -> str:
    return "ok"


app = app_for(RoundRobinTeam("echo", [AssistantAgent("bot", FunctionModel(answer))]))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES
)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_api_answers_by_its_document(case: schemathesis.Case) -> None:
    # A schema-valid request may still be a 400 for reasons no schema states (the last
    # message must be the user's; 'after' must name a conversation): not checked.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
