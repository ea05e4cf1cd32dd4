"""``troupe chat``: a terminal client for a team, and a small example of the adapter base.

It is a client of the HTTP API like the adapters: ``TeamClient`` (the
``openai`` SDK) for the requests, ``TeamStreamHandler`` hooks for the events.
Each agent message is printed once, under its agent's name; messages of
agents working at once come one after another, whole.
"""

from __future__ import annotations

__all__ = ["TerminalTurn", "run_chat"]

import sys
from typing import Any, TextIO

import anyio

from troupe.adapters._base import TeamClient, TeamStreamHandler, TurnOutcome
from troupe.adapters._sequence import Sequencer
from troupe.events import (
    AgentFinished,
    AgentStarted,
    CodeExecuted,
    CodeExecutionStarted,
    Event,
    HandoffOccurred,
    InputRequested,
    RunEnded,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)


class TerminalTurn(TeamStreamHandler):
    """Prints one turn of a team to ``out``; the agents' work too, with ``show_work``."""

    def __init__(self, out: TextIO, *, show_work: bool = True, color: bool = False) -> None:
        self.out = out
        self.show_work = show_work
        self.dim, self.bold, self.reset = (
            ("\033[2m", "\033[1m", "\033[0m") if color else ("", "", "")
        )
        self._lines: Sequencer[Event] = Sequencer()
        self._latest: dict[str, str] = {}  # agent -> its open message, where its work goes
        self._speaking: str | None = None  # the message whose text is being printed
        self._after_work = False  # a work line was printed since that text

    async def on_agent_start(self, event: AgentStarted) -> None:
        self._latest[event.agent] = event.message_id

    async def on_text_delta(self, event: TextDelta) -> None:
        self._print(self._lines.add(event.message_id, event))

    async def on_agent_end(self, event: AgentFinished) -> None:
        if self._latest.get(event.agent) == event.message_id:
            del self._latest[event.agent]
        self._print(self._lines.end(event.message_id))

    async def on_tool_call(self, event: ToolCalled) -> None:
        self._work(event)

    async def on_tool_result(self, event: ToolResultReturned) -> None:
        self._work(event)

    async def on_handoff(self, event: HandoffOccurred) -> None:
        self._work(event)

    async def on_code_execution(self, event: CodeExecutionStarted) -> None:
        self._work(event)

    async def on_code_result(self, event: CodeExecuted) -> None:
        self._work(event)

    async def on_input_requested(self, event: InputRequested) -> None:
        self._print(self._lines.drain())
        hint = " (approve / reject: <reason>)" if event.kind == "approval" else ""
        self._write(f"\n{self.bold}{event.agent} asks{hint}:{self.reset} {event.prompt}\n")

    async def on_run_end(self, event: RunEnded) -> None:
        self._print(self._lines.drain())
        if self.show_work:
            usage = event.usage.total_tokens
            self._write(f"\n{self.dim}  ({event.stop_reason}; {usage} tokens){self.reset}")
        self._write("\n")

    async def on_error(self, message: str, code: str | None = None) -> None:
        self._print(self._lines.drain())
        self.out.flush()
        print(f"\n[error] {message}", file=sys.stderr, flush=True)

    def _work(self, event: Event) -> None:
        if self.show_work:
            self._print(self._lines.add(self._latest.get(event.agent), event))

    def _print(self, events: list[Event]) -> None:
        for event in events:
            self._write(self._line(event))

    def _line(self, event: Event) -> str:
        if isinstance(event, TextDelta):
            if event.message_id != self._speaking:
                self._speaking, self._after_work = event.message_id, False
                return f"\n{self.bold}{event.agent}:{self.reset} {event.text.lstrip()}"
            if self._after_work:  # the message goes on below its work
                self._after_work = False
                return "\n" + event.text.lstrip()
            return event.text
        self._after_work = True
        dim, reset = self.dim, self.reset
        if isinstance(event, ToolCalled):
            return f"\n{dim}  {event.agent} → {event.name}({event.arguments}){reset}"
        if isinstance(event, ToolResultReturned):
            mark = "failed" if event.is_error else "ok"
            return f"\n{dim}  ← {event.name} {mark}: {event.content[:200]}{reset}"
        if isinstance(event, HandoffOccurred):
            return f"\n{dim}  {event.agent} hands off to {event.target}{reset}"
        if isinstance(event, CodeExecutionStarted):
            return f"\n{dim}  {event.agent} runs {event.language}:\n{event.code}{reset}"
        if isinstance(event, CodeExecuted):
            status = "timed out" if event.timed_out else f"exit code {event.exit_code}"
            return f"\n{dim}  {status}: {event.output[:200]}{reset}"
        return ""

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


async def _turn(
    server: str,
    api_key: str | None,
    team: str,
    text: str,
    conversation_id: str | None,
    show_work: bool,
) -> TurnOutcome:
    client = TeamClient(server, api_key=api_key)
    printer = TerminalTurn(sys.stdout, show_work=show_work, color=sys.stdout.isatty())
    try:
        return await printer.run(client, team, text, conversation_id=conversation_id)
    finally:
        with anyio.CancelScope(shield=True):
            await client.aclose()


def _check_team(client: Any, server: str, team: str) -> str | None:
    """Why chatting with ``team`` cannot start, or None: asked before the first message."""
    import openai

    try:
        client.models.retrieve(team)
    except openai.NotFoundError:
        try:
            teams = ", ".join(sorted(m.id for m in client.models.list())) or "none"
        except openai.APIError:
            teams = "unknown"
        return f"the server at {server} has no team {team!r}; its teams: {teams}"
    except openai.AuthenticationError:
        return (
            f"the server at {server} refused the API key: give it with --api-key or TROUPE_API_KEY"
        )
    except openai.APIConnectionError:
        return f"cannot reach a troupe server at {server}: start one with `troupe serve`, or pass --server"
    except openai.APIError as err:
        return f"the server at {server} cannot serve {team!r}: {err.message}"
    return None


def run_chat(server: str, team: str, *, api_key: str | None = None, show_work: bool = True) -> int:
    """Chat with ``team`` at ``server`` until end of input (Ctrl-D)."""
    import openai

    client = openai.OpenAI(
        base_url=server.rstrip("/") + "/v1", api_key=api_key or "none", max_retries=0
    )
    problem = _check_team(client, server, team)
    if problem:
        print(f"troupe chat: {problem}", file=sys.stderr)
        return 1
    conversation_id: str | None = None
    print(f"Chatting with team '{team}' at {server} (Ctrl-D to quit)")
    while True:
        try:
            text = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not text:
            continue
        try:
            outcome = anyio.run(_turn, server, api_key, team, text, conversation_id, show_work)
        except KeyboardInterrupt:
            print("\n[stopped]")
            continue
        conversation_id = outcome.conversation_id or conversation_id
