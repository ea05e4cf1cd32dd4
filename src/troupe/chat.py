"""``troupe chat``: a terminal client for a team, and a small example of the decoder.

It is a client of the HTTP API like the adapters: the ``openai`` SDK for the
requests, ``troupe.wire.StreamDecoder`` for the events.
"""

from __future__ import annotations

__all__ = ["run_chat"]

import sys
from typing import Any

from troupe.events import (
    AgentStarted,
    Event,
    HandoffOccurred,
    InputRequested,
    RunEnded,
    RunFailed,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)
from troupe.wire import StreamDecoder

_DIM, _BOLD, _RESET = ("\033[2m", "\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def _show(event: Event, show_work: bool) -> None:
    if isinstance(event, AgentStarted):
        print(f"\n{_BOLD}{event.agent}:{_RESET} ", end="", flush=True)
    elif isinstance(event, TextDelta):
        print(event.text, end="", flush=True)
    elif isinstance(event, ToolCalled) and show_work:
        print(f"\n{_DIM}  → {event.name}({event.arguments}){_RESET}", flush=True)
    elif isinstance(event, ToolResultReturned) and show_work:
        mark = "failed" if event.is_error else "ok"
        print(f"{_DIM}  ← {event.name} {mark}: {event.content[:200]}{_RESET}", flush=True)
    elif isinstance(event, HandoffOccurred) and show_work:
        print(f"\n{_DIM}  {event.agent} hands off to {event.target}{_RESET}", flush=True)
    elif isinstance(event, InputRequested):
        print(f"\n{_BOLD}{event.agent} asks:{_RESET} {event.prompt}", flush=True)
    elif isinstance(event, RunFailed):
        print(f"\n[error] {event.message}", file=sys.stderr, flush=True)
    elif isinstance(event, RunEnded) and show_work:
        print(
            f"\n{_DIM}  ({event.stop_reason}; {event.usage.total_tokens} tokens){_RESET}",
            flush=True,
        )


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
    import openai

    client = openai.OpenAI(
        base_url=server.rstrip("/") + "/v1", api_key=api_key or "none", max_retries=0
    )
    problem = _check_team(client, server, team)
    if problem:
        print(f"troupe chat: {problem}", file=sys.stderr)
        return 1
    conversation: dict[str, str] = {}
    print(f"Chatting with team '{team}' at {server} (Ctrl-D to quit)")
    while True:
        try:
            text = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not text:
            continue
        decoder = StreamDecoder()
        try:
            stream = client.chat.completions.create(
                model=team,
                messages=[{"role": "user", "content": text}],
                stream=True,
                extra_headers=conversation,
            )
            with stream:
                conversation_id = stream.response.headers.get("x-conversation-id")
                if conversation_id:
                    conversation["X-Conversation-Id"] = conversation_id
                chunk: Any
                for chunk in stream:
                    for event in decoder.feed(chunk):
                        _show(event, show_work)
            print()
        except openai.APIError as err:
            print(f"\n[error] {err.message}", file=sys.stderr)
        except KeyboardInterrupt:
            print("\n[stopped]")
