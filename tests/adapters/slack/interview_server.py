"""A troupe server whose team asks the human a question, then uses the answer.

No configurable agent can ask for input yet (the user proxy is being built),
so this builds the team in Python, from the real team and server code, and
serves it like ``troupe serve`` does::

    python -m tests.adapters.slack.interview_server --port 8300
"""

from __future__ import annotations

import argparse

import uvicorn

from troupe.agents import AgentOutcome, AgentTurn, AwaitingInput, Emit, new_message_id
from troupe.events import AgentFinished, AgentStarted, TextDelta
from troupe.messages import AssistantMessage, UserMessage, text_of
from troupe.server import create_app
from troupe.teams import RoundRobinTeam

QUESTION = "Which city are you in?"


class Interviewer:
    """Asks where the user is; the next turn answers with what they said."""

    name = "interviewer"
    description = "Asks for your city, then recommends something there."

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        if turn.state != "asked":
            return AgentOutcome(messages=(), end=AwaitingInput(prompt=QUESTION), state="asked")
        said = next(
            (text_of(m) for m in reversed(turn.transcript) if isinstance(m, UserMessage)), ""
        )
        answer = f"Thanks! In {said} you should visit the old town."
        message_id = new_message_id()
        await emit(AgentStarted(agent=self.name, message_id=message_id))
        await emit(TextDelta(agent=self.name, message_id=message_id, text=answer))
        await emit(AgentFinished(agent=self.name, message_id=message_id))
        return AgentOutcome(messages=(AssistantMessage(content=answer, source=self.name),))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(teams=[RoundRobinTeam("interview", [Interviewer()])])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
