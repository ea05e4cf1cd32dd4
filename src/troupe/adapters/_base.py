"""The shared adapter base: a troupe server's stream, turned into hook calls.

Adapters (Chainlit, Streamlit, Slack) are clients of troupe's HTTP API. They
talk to the server with the ``openai`` SDK and decode its stream with
``troupe.wire``; they never import server or team code. Each adapter
subclasses ``TeamStreamHandler`` and fills in the hooks it renders::

    class Printer(TeamStreamHandler):
        async def on_text_delta(self, event):
            print(event.text, end="")

    client = TeamClient("http://127.0.0.1:8000", api_key="...")
    outcome = await Printer().run(client, "writers", "A haiku about tea", conversation_id=None)
    outcome.conversation_id   # pass it back to continue the conversation

Every hook is async and does nothing by default. ``run`` never raises for a
server that is down, a refused key, an unknown team or a failed run: it calls
``on_error`` with a message a person can act on, and returns.
"""

from __future__ import annotations

__all__ = [
    "APPROVE",
    "REJECT",
    "ConversationInfo",
    "TeamClient",
    "TeamInfo",
    "TeamStreamHandler",
    "TurnOutcome",
    "answer_choices",
    "describe_error",
]

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import httpx2
import msgspec
import openai
from openai.types.chat import ChatCompletionChunk

from troupe.events import (
    AgentFinished,
    AgentStarted,
    CodeExecuted,
    CodeExecutionStarted,
    Event,
    HandoffOccurred,
    InputRequested,
    ReasoningDelta,
    RunEnded,
    RunFailed,
    SpeakerSelected,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
    UsageReported,
)
from troupe.messages import Usage
from troupe.wire import StreamDecoder

# A connection that broke mid-stream: resumed from the run's log.
_BROKEN = (openai.APIConnectionError, httpx2.TransportError)

# What the team expects to hear for code waiting for approval (see docs/code-execution.md):
# ``approve`` runs it; ``reject`` (or ``reject: <reason>``, typed) does not.
APPROVE = "approve"
REJECT = "reject"


def answer_choices(event: InputRequested) -> list[tuple[str, str]]:
    """The answers a front end can offer as buttons for ``event``, as (label, answer).

    An approval has two (approve, reject); a question is answered in words.
    """
    if event.kind == "approval":
        return [("Approve", APPROVE), ("Reject", REJECT)]
    return []


class TeamInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A team as ``/v1/models`` lists it."""

    id: str
    description: str = ""
    kind: str = ""
    agents: tuple[str, ...] = ()


class ConversationInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation the server keeps, as ``/v1/conversations/{id}`` tells it."""

    id: str
    team: str
    waiting_for: str | None = None  # the agent waiting for the human's answer, if one is


class TurnOutcome(msgspec.Struct, kw_only=True):
    """How one turn (one request) ended."""

    conversation_id: str | None = None
    stop_reason: str = ""
    usage: Usage | None = None
    input_requested: InputRequested | None = None
    error: str | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


class TeamClient:
    """A troupe server seen through the ``openai`` SDK."""

    def __init__(
        self,
        server_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 600.0,
        http_client: Any = None,
        reconnects: int = 5,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.reconnects = reconnects
        base_url = self.server_url if self.server_url.endswith("/v1") else f"{self.server_url}/v1"
        kwargs: dict[str, Any] = {"http_client": http_client} if http_client is not None else {}
        self.openai = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=0, **kwargs
        )

    async def teams(self) -> list[TeamInfo]:
        """The server's teams (``/v1/models``)."""
        page = await self.openai.models.list()
        teams = []
        for model in page.data:
            extra = model.model_extra or {}
            agents = tuple(
                a.get("name", "") for a in extra.get("agents") or [] if isinstance(a, dict)
            )
            teams.append(
                TeamInfo(
                    id=model.id,
                    description=str(extra.get("description") or ""),
                    kind=str(extra.get("kind") or ""),
                    agents=agents,
                )
            )
        return teams

    async def conversation(self, conversation_id: str) -> ConversationInfo | None:
        """The server's conversation ``conversation_id``; None when it has none by that id."""
        try:
            body = await self.openai.get(f"/conversations/{conversation_id}", cast_to=object)
        except openai.NotFoundError:
            return None
        return msgspec.convert(body, ConversationInfo, strict=False)

    async def stream(
        self, team: str, text: str, *, conversation_id: str | None = None
    ) -> AsyncGenerator[tuple[str | None, list[Event]], None]:
        """Send ``text`` to ``team``; yield (conversation id, events) per chunk received.

        The run is a background run: when the connection breaks (a network blip, a
        replica restarting) the stream is resumed where it broke
        (``/v1/runs/{id}/stream`` with ``Last-Event-ID``), up to ``reconnects`` times.
        Closing the iterator early (a person's Stop) cancels the run.
        """
        headers = {"X-Conversation-Id": conversation_id} if conversation_id else {}
        stream = await self.openai.chat.completions.create(
            model=team,
            messages=[{"role": "user", "content": text}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=headers,
            extra_body={"background": True},
        )
        decoder = StreamDecoder()
        conversation = stream.response.headers.get("x-conversation-id") or conversation_id
        run_id = stream.response.headers.get("x-run-id")
        seen = 0  # every frame has an id, counting from 1: the chunks read so far
        broken = 0
        finished = False
        try:
            while True:
                try:
                    async with stream:
                        async for chunk in stream:
                            seen += 1
                            yield conversation, decoder.feed(chunk)
                    finished = True
                    return
                except _BROKEN as err:
                    broken += 1
                    if run_id is None or broken > self.reconnects:
                        raise openai.APIConnectionError(
                            message=f"the stream broke and could not be resumed: {err}",
                            request=stream.response.request,
                        ) from err
                    await anyio.sleep(min(0.5 * 2 ** (broken - 1), 5.0))
                    stream = await self._resume(run_id, seen)
        finally:
            if not finished and run_id is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await self._cancel(run_id)

    async def _resume(self, run_id: str, seen: int) -> openai.AsyncStream[ChatCompletionChunk]:
        """The run's stream after the ``seen``-th frame."""
        return await self.openai.get(
            f"/runs/{run_id}/stream",
            cast_to=ChatCompletionChunk,
            options={"headers": {"Last-Event-ID": str(seen)}},
            stream=True,
            stream_cls=openai.AsyncStream[ChatCompletionChunk],
        )

    async def _cancel(self, run_id: str) -> None:
        with contextlib.suppress(openai.APIError):
            await self.openai.post(f"/runs/{run_id}/cancel", cast_to=object)

    async def aclose(self) -> None:
        await self.openai.close()


def describe_error(err: BaseException, server_url: str = "") -> str:
    """A message for a person: what went wrong and what to do about it."""
    where = f" at {server_url}" if server_url else ""
    if isinstance(err, openai.APIConnectionError) and not isinstance(err, openai.APITimeoutError):
        return f"Cannot reach the troupe server{where}. Is it running? Check the server URL."
    if isinstance(err, openai.APITimeoutError):
        return f"The troupe server{where} did not answer in time. Try again."
    if isinstance(err, openai.AuthenticationError):
        return "The troupe server refused the API key. Check the key you configured."
    if isinstance(err, openai.NotFoundError):
        return f"The server has no such team: {_message(err)}"
    if isinstance(err, openai.RateLimitError):
        return f"The team's model is rate limited; wait a moment and try again. ({_message(err)})"
    if isinstance(err, openai.APIStatusError):
        return f"The troupe server answered {err.status_code}: {_message(err)}"
    if isinstance(err, openai.APIError):
        return f"The run failed: {_message(err)}"
    return f"Unexpected error: {type(err).__name__}: {err}"


def _message(err: openai.APIError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return err.message


class TeamStreamHandler:
    """Hooks called for each event of a team's stream. Override the ones you render."""

    async def on_agent_start(self, event: AgentStarted) -> None: ...

    async def on_text_delta(self, event: TextDelta) -> None: ...

    async def on_reasoning_delta(self, event: ReasoningDelta) -> None: ...

    async def on_agent_end(self, event: AgentFinished) -> None: ...

    async def on_tool_call(self, event: ToolCalled) -> None: ...

    async def on_tool_result(self, event: ToolResultReturned) -> None: ...

    async def on_handoff(self, event: HandoffOccurred) -> None: ...

    async def on_input_requested(self, event: InputRequested) -> None: ...

    async def on_usage(self, event: UsageReported) -> None: ...

    async def on_speaker_selected(self, event: SpeakerSelected) -> None: ...

    async def on_code_execution(self, event: CodeExecutionStarted) -> None: ...

    async def on_code_result(self, event: CodeExecuted) -> None: ...

    async def on_run_end(self, event: RunEnded) -> None: ...

    async def on_error(self, message: str, code: str | None = None) -> None:
        """The turn failed: the server is down, refused the key, or the run failed."""

    async def on_event(self, event: Event) -> None:
        """Every event, before its own hook; also the place for types added later."""

    async def dispatch(self, event: Event) -> None:
        await self.on_event(event)
        if isinstance(event, TextDelta):
            await self.on_text_delta(event)
        elif isinstance(event, AgentStarted):
            await self.on_agent_start(event)
        elif isinstance(event, AgentFinished):
            await self.on_agent_end(event)
        elif isinstance(event, ReasoningDelta):
            await self.on_reasoning_delta(event)
        elif isinstance(event, ToolCalled):
            await self.on_tool_call(event)
        elif isinstance(event, ToolResultReturned):
            await self.on_tool_result(event)
        elif isinstance(event, HandoffOccurred):
            await self.on_handoff(event)
        elif isinstance(event, InputRequested):
            await self.on_input_requested(event)
        elif isinstance(event, UsageReported):
            await self.on_usage(event)
        elif isinstance(event, SpeakerSelected):
            await self.on_speaker_selected(event)
        elif isinstance(event, CodeExecutionStarted):
            await self.on_code_execution(event)
        elif isinstance(event, CodeExecuted):
            await self.on_code_result(event)
        elif isinstance(event, RunEnded):
            await self.on_run_end(event)
        elif isinstance(event, RunFailed):
            await self.on_error(event.message, event.code)

    async def run(
        self, client: TeamClient, team: str, text: str, *, conversation_id: str | None = None
    ) -> TurnOutcome:
        """Send one user message and feed the hooks until the turn ends."""
        outcome = TurnOutcome(conversation_id=conversation_id)
        texts: list[str] = []
        try:
            # Closed however the turn ends: a hook that raises (a person's Stop) cancels the run.
            stream = client.stream(team, text, conversation_id=conversation_id)
            async with contextlib.aclosing(stream):
                async for conversation, events in stream:
                    outcome.conversation_id = conversation
                    for event in events:
                        if isinstance(event, TextDelta):
                            texts.append(event.text)
                        elif isinstance(event, RunEnded):
                            outcome.stop_reason = event.stop_reason
                            outcome.usage = event.usage
                            outcome.conversation_id = (
                                event.conversation_id or outcome.conversation_id
                            )
                        elif isinstance(event, InputRequested):
                            outcome.input_requested = event
                        elif isinstance(event, RunFailed):
                            outcome.error = event.message
                        await self.dispatch(event)
        except openai.APIError as err:
            outcome.error = describe_error(err, client.server_url)
            code = getattr(err, "code", None)
            await self.on_error(outcome.error, code if isinstance(code, str) else None)
        outcome.text = "".join(texts)
        return outcome
