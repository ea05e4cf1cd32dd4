"""``AssistantAgent``: a model with a system message and tools.

One turn is a loop: call the model (streaming its text), run the tool calls it
asked for concurrently, give it the results, and repeat up to
``max_tool_iterations`` times. After the last tool round the model reflects on
the results in text (``reflect_on_tool_use``), or the turn ends with a summary
of the tool results (``tool_call_summary_format``), as in AutoGen.
"""

from __future__ import annotations

__all__ = ["AssistantAgent"]

import contextlib
import logging
from collections.abc import Awaitable, Generator, Sequence
from typing import Any

from troupe import logs
from troupe.agents._base import AgentOutcome, AgentTurn, Emit, ToolsRequested, new_message_id
from troupe.agents._client_tools import ClientTools
from troupe.agents._context import ContextPolicy, apply_context_policy, estimate_tokens
from troupe.agents._handoff import STOP_TOOL, Handoff
from troupe.agents._recall import recall
from troupe.agents._structured import MAX_INVALID_ANSWERS, StructuredOutput
from troupe.agents._tokens import token_counter
from troupe.agents._tool_calls import run_tool_calls
from troupe.agents._view import model_view
from troupe.errors import ConfigError, ConfigIssue, UpstreamError
from troupe.events import (
    AgentFinished,
    AgentStarted,
    ReasoningDelta,
    TextDelta,
    UsageReported,
)
from troupe.memory import Memory
from troupe.messages import AssistantMessage, Message, ToolCall, ToolMessage, Usage, UserMessage
from troupe.models import capabilities_of
from troupe.models._base import (
    ChatModel,
    ModelRequest,
    ModelResponse,
    OutputSchema,
    ReasoningChunk,
    TextChunk,
    ToolSpec,
)
from troupe.telemetry import model_stream
from troupe.tools import Tool, Toolset

logger = logging.getLogger("troupe.agents")


class AssistantAgent:
    """An agent backed by a ``ChatModel``, with optional tools."""

    def __init__(
        self,
        name: str,
        model: ChatModel,
        *,
        system_message: str | None = "You are a helpful assistant.",
        description: str = "",
        tools: Sequence[Tool | Toolset] = (),
        max_tool_iterations: int = 1,
        reflect_on_tool_use: bool = True,
        tool_call_summary_format: str = "{result}",
        handoffs: Sequence[Handoff | str] = (),
        stop_tool: bool = False,
        context: ContextPolicy | None = None,
        output_type: type[Any] | OutputSchema | None = None,
        client_tools: bool = True,
        memory: Sequence[Memory] = (),
    ) -> None:
        if not name.isidentifier():
            raise ConfigError(ConfigIssue("$.name", f"agent name {name!r} must be an identifier"))
        if max_tool_iterations < 1:
            raise ConfigError(ConfigIssue("$.max_tool_iterations", "must be at least 1"))
        # Toolsets (an MCP server's tools) are listed at the start of each turn.
        self.toolsets = [t for t in tools if not isinstance(t, Tool)]
        static = [t for t in tools if isinstance(t, Tool)]
        self.handoffs = {
            h.tool_name: h
            for h in (Handoff(target=h) if isinstance(h, str) else h for h in handoffs)
        }
        names = (
            [tool.name for tool in static]
            + list(self.handoffs)
            + (["stop_run"] if stop_tool else [])
        )
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ConfigError(
                ConfigIssue("$.tools", f"agent {name!r} has two tools named {duplicate!r}")
            )
        self._name = name
        self._description = description or f"An assistant agent named {name}."
        self.model = model
        self.system_message = system_message
        self.tools: dict[str, Tool] = {tool.name: tool for tool in static}
        self.stop_tool = stop_tool
        # Whether the agent may call the tools a client passes in its request.
        self.client_tools = client_tools
        self.context = context or ContextPolicy()
        self._window = capabilities_of(model).context_window
        # Counted with the model's tokenizer only when a budget needs counting.
        self._count = (
            token_counter(model) if self.context.token_budget is not None else estimate_tokens
        )
        self.output = StructuredOutput.of(output_type) if output_type is not None else None
        self._specs: tuple[ToolSpec, ...] = (
            *(tool.spec for tool in static),
            *(handoff.spec for handoff in self.handoffs.values()),
            *((STOP_TOOL,) if stop_tool else ()),
        )
        self.memory = tuple(memory)
        self.max_tool_iterations = max_tool_iterations
        self.reflect_on_tool_use = reflect_on_tool_use
        self.tool_call_summary_format = tool_call_summary_format

    @property
    def name(self) -> str:
        return self._name

    @property
    def tool_names(self) -> frozenset[str]:
        """The names of the agent's own tools (handoffs and the stop tool included)."""
        return frozenset(spec.name for spec in self._specs)

    @property
    def description(self) -> str:
        return self._description

    def __repr__(self) -> str:
        return f"AssistantAgent({self._name!r}, {self.model.provider}:{self.model.model_name})"

    async def turn_tools(self) -> tuple[dict[str, Tool], tuple[ToolSpec, ...]]:
        """The tools of this turn and what the model is told of them."""
        if not self.toolsets:
            return self.tools, self._specs
        tools = dict(self.tools)
        for toolset in self.toolsets:
            for tool in await toolset.list_tools():
                tools.setdefault(tool.name, tool)
        listed = tuple(tool.spec for name, tool in tools.items() if name not in self.tools)
        return tools, (*listed, *self._specs)

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        tools, specs = await self.turn_tools()
        message_id = new_message_id()
        await emit(AgentStarted(agent=self._name, message_id=message_id))
        stream = _TextStream(self._name, message_id, emit)
        recalled = await recall(self._name, self.memory, turn, emit) if self.memory else ()
        transcript = turn.transcript + recalled
        produced: list[Message] = []
        usage = Usage()
        iterations = 0
        invalid_answers = 0
        client = ClientTools(turn, accepts=self.client_tools)
        output = StructuredOutput(turn.output_schema) if turn.output_schema else self.output
        system = "\n\n".join(s for s in (self.system_message, turn.instructions) if s) or None
        while True:
            reflecting = iterations >= self.max_tool_iterations
            offered, forced = client.offer(specs, first=not produced)
            request = ModelRequest(
                messages=apply_context_policy(
                    model_view(self._name, system, transcript + tuple(produced)),
                    self.context,
                    count=self._count,
                    context_window=self._window,
                ),
                tools=offered,
                tool_choice="none" if reflecting and offered else forced or "auto",
                output_schema=output.schema if output else None,
            )
            response = await self._call_model(request, stream)
            usage += response.usage
            await emit(UsageReported(agent=self._name, usage=response.usage))
            calls = () if reflecting else response.tool_calls
            produced.append(
                AssistantMessage(
                    content=response.content,
                    source=self._name,
                    tool_calls=calls,
                    reasoning=response.reasoning,
                    reasoning_signature=response.reasoning_signature,
                    usage=response.usage,
                )
            )
            if not calls:
                problem = output.problem(response.content) if output else None
                if problem is None or invalid_answers >= MAX_INVALID_ANSWERS:
                    break
                # The answer does not match the requested structure: say why, once or twice.
                invalid_answers += 1
                produced.append(UserMessage(content=problem, source=self._name))
                stream.new_part()
                continue
            mine, theirs = client.split(calls)
            results, control = await run_tool_calls(
                self._name,
                mine,
                emit,
                tools=tools,
                handoffs=self.handoffs,
                stop_tool=self.stop_tool,
                vision=self.model.capabilities.vision,
            )
            produced.extend(results)
            if control is not None:
                produced.extend(client.ignored(self._name, theirs))
                produced.append(control.message)
                await emit(AgentFinished(agent=self._name, message_id=message_id))
                return AgentOutcome(messages=tuple(produced), usage=usage, end=control.end)
            if theirs:
                # The client runs these: the turn (and the run) waits for their results.
                await emit(AgentFinished(agent=self._name, message_id=message_id))
                end = ToolsRequested(calls=tuple(theirs))
                return AgentOutcome(messages=tuple(produced), usage=usage, end=end)
            iterations += 1
            if iterations >= self.max_tool_iterations and not self.reflect_on_tool_use:
                summary = self._summary(calls, [r for r in results if isinstance(r, ToolMessage)])
                stream.new_part()
                await stream.write(summary)
                produced.append(AssistantMessage(content=summary, source=self._name))
                break
        await emit(AgentFinished(agent=self._name, message_id=message_id))
        return AgentOutcome(messages=tuple(produced), usage=usage)

    def _call_model(self, request: ModelRequest, stream: _TextStream) -> Awaitable[ModelResponse]:
        # The call itself, not a coroutine around it: a frame fewer to resume at every read.
        return call_model(self._name, self.model, request, stream)

    def _summary(self, calls: Sequence[ToolCall], results: Sequence[ToolMessage]) -> str:
        return "\n".join(
            self.tool_call_summary_format.format(
                tool_name=call.name,
                arguments=call.arguments,
                result=result.content,
                is_error=result.is_error,
            )
            for call, result in zip(calls, results, strict=True)
        )


async def call_model(
    agent: str, model: ChatModel, request: ModelRequest, stream: _TextStream
) -> ModelResponse:
    """One model call for ``agent``: its text and thinking streamed, its final response returned."""
    stream.new_part()
    with logs.bound(agent=agent):
        try:
            # aclosing: a turn cancelled mid-stream closes the upstream request now, not at GC.
            async with contextlib.aclosing(model_stream(model, request)) as items:
                async for item in items:
                    if isinstance(item, TextChunk):
                        await stream.write(item.text)
                    elif isinstance(item, ReasoningChunk):
                        await stream.think(item.text)
                    elif isinstance(item, ModelResponse):
                        return item
        except UpstreamError as err:
            failure = err.for_agent(agent)
            # The client gets failure.message; the log also gets the endpoint.
            logger.warning("model call failed: %s", failure.detail)
            raise failure from err.__cause__
    raise UpstreamError(
        f"agent '{agent}': {model.provider} model '{model.model_name}' ended its stream without a response",
        provider=model.provider,
        model=model.model_name,
        agent=agent,
    )


class _Nothing:
    """An awaitable that is done at once."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator that ends at once


_NOTHING = _Nothing()


class _TextStream:
    """Emits an agent's text deltas, separating the text of successive model calls."""

    def __init__(self, agent: str, message_id: str, emit: Emit) -> None:
        self.agent = agent
        self.message_id = message_id
        self.emit = emit
        self.wrote = False
        self.last = ""
        self.pending_break = False

    def new_part(self) -> None:
        self.pending_break = self.wrote

    def write(self, text: str) -> Awaitable[None]:
        """Emit ``text`` (returns the emit's awaitable: no coroutine of its own per token)."""
        if not text:
            return _NOTHING
        if self.pending_break:
            self.pending_break = False
            if not self.last.endswith("\n"):
                text = "\n\n" + text
        self.wrote = True
        self.last = text
        return self.emit(TextDelta(agent=self.agent, message_id=self.message_id, text=text))

    async def think(self, text: str) -> None:
        if text:
            await self.emit(ReasoningDelta(agent=self.agent, message_id=self.message_id, text=text))
