"""A team defined in Python instead of YAML, served as a standalone app.

    uv run uvicorn examples.python_team:app --port 8000

Without OPENAI_API_KEY the agents use the offline demo model.
"""

from __future__ import annotations

import os

from troupe import AssistantAgent, RoundRobinTeam, TextMention, create_app, function_tool
from troupe.models import ChatModel, DemoModel


def word_count(text: str) -> int:
    """Count the words in a text.

    Args:
        text: The text to count.
    """
    return len(text.split())


def model() -> ChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from troupe.models.openai import OpenAIModel

        return OpenAIModel("gpt-4o-mini")
    return DemoModel()


editors = RoundRobinTeam(
    "editors",
    [
        AssistantAgent(
            "drafter",
            model(),
            system_message="Draft a short text for the user. Use word_count to stay under 80 words.",
            tools=[function_tool(word_count)],
        ),
        AssistantAgent(
            "reviewer", model(), system_message="You are a reviewer. Say APPROVE when it is good."
        ),
    ],
    description="A drafter and a reviewer.",
    termination=TextMention("APPROVE"),
    max_turns=6,
)

app = create_app(teams=[editors])
