"""Society of mind: an agent whose turn is an inner team's run, summarised by a model.

On its turn the agent gives the conversation to its inner team, which runs
from a fresh state (as AutoGen resets it after each response); then a model
reads the inner team's messages between ``instruction`` and
``response_prompt`` and writes the agent's one message. The inner agents'
text streams as the agent's reasoning (``reasoning_content``), their other
events (tools, speakers) as they are; the summary is the agent's text. An
inner agent that asks the human pauses the run, and the answer resumes the
inner team (see ``TeamAgent``).
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_INSTRUCTION",
    "DEFAULT_RESPONSE_PROMPT",
    "SocietyOfMindAgent",
]

from troupe.agents import AgentOutcome, AgentTurn, Answered, AwaitingInput, Emit, new_message_id
from troupe.agents._assistant import _TextStream, call_model
from troupe.events import (
    AgentFinished,
    AgentStarted,
    Event,
    ReasoningDelta,
    RunEnded,
    TextDelta,
    UsageReported,
)
from troupe.messages import AssistantMessage, Message, SystemMessage, UserMessage
from troupe.models import ChatModel, ModelRequest
from troupe.teams._base import Team
from troupe.teams._nested import nested_state, run_inner

DEFAULT_INSTRUCTION = (
    "Earlier you were asked to fulfill a request. You and your team worked diligently "
    "to address that request. Here is a transcript of that conversation:"
)
DEFAULT_RESPONSE_PROMPT = (
    "Output a standalone response to the original request, "
    "without mentioning any of the intermediate discussion."
)


class SocietyOfMindAgent:
    """An agent that thinks with a team: the team works, a model answers from its work."""

    def __init__(
        self,
        name: str,
        team: Team,
        model: ChatModel,
        *,
        instruction: str = DEFAULT_INSTRUCTION,
        response_prompt: str = DEFAULT_RESPONSE_PROMPT,
        description: str = "An agent that uses an inner team of agents to generate responses.",
    ) -> None:
        self._name = name
        self._description = description
        self.team = team
        self.model = model
        self.instruction = instruction
        self.response_prompt = response_prompt

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        inner = await run_inner(self.team, self._name, turn, _as_thinking(emit), keep=False)
        pending = inner.result.state.pending_input
        if pending is not None:
            # The inner talk stays inside: only the summary joins the outer transcript.
            return AgentOutcome(
                messages=(),
                usage=inner.result.usage,
                end=AwaitingInput(prompt=pending.prompt, inner=True),
                state=nested_state(inner.result.state, len(turn.transcript)),
            )
        message_id = new_message_id()
        await emit(AgentStarted(agent=self._name, message_id=message_id))
        stream = _TextStream(self._name, message_id, emit)
        work = [
            m
            for m in inner.result.state.transcript
            if (isinstance(m, AssistantMessage) and m.content and not m.tool_calls)
            or (isinstance(m, UserMessage) and m.source in self.team.by_name)
        ]
        if not work:
            await stream.write("No response.")
            await emit(AgentFinished(agent=self._name, message_id=message_id))
            return AgentOutcome(
                messages=(AssistantMessage(content="No response.", source=self._name),),
                usage=inner.result.usage,
            )
        asked: list[Message] = [
            SystemMessage(content=self.instruction, source=self._name),
            *(UserMessage(content=m.content, source=m.source) for m in work),
            UserMessage(content=self.response_prompt, source=self._name),
        ]
        response = await call_model(
            self._name, self.model, ModelRequest(messages=tuple(asked)), stream
        )
        await emit(UsageReported(agent=self._name, usage=response.usage))
        await emit(AgentFinished(agent=self._name, message_id=message_id))
        answer = AssistantMessage(content=response.content, source=self._name, usage=response.usage)
        return AgentOutcome(
            messages=(answer,), usage=inner.result.usage + response.usage, end=Answered()
        )


def _as_thinking(emit: Emit) -> Emit:
    """The inner team's events, its agents' text as reasoning; its run_end stays inside."""

    async def forward(event: Event) -> None:
        if isinstance(event, TextDelta):
            await emit(
                ReasoningDelta(agent=event.agent, message_id=event.message_id, text=event.text)
            )
        elif not isinstance(event, RunEnded):
            await emit(event)

    return forward
