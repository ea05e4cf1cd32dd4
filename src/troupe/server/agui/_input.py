"""AG-UI's ``RunAgentInput`` -> what the run manager runs.

``threadId`` is the conversation. A front end resends the whole thread; the
server keeps the team's state, so only what came after the last assistant
message is new (a thread the server does not know yet starts from all of it).
``resume`` answers the interrupt a previous run ended with; a new user message
does too. ``tools`` are the front end's own tools, offered to the team's agents
like a chat request's client tools: an agent's call ends the run, and the front
end's next run on the thread, with the results (``role: tool`` messages), goes on. ``context`` reaches the team as a system message; ``state`` and
``forwardedProps`` are kept in the run's metadata for the application.
"""

from __future__ import annotations

__all__ = ["last_seen", "parse_input", "run_start"]

from collections.abc import Sequence
from typing import Any

import msgspec
import pydantic
from ag_ui.core import (
    AssistantMessage as AguiAssistant,
)
from ag_ui.core import (
    DeveloperMessage,
    RunAgentInput,
)
from ag_ui.core import (
    SystemMessage as AguiSystem,
)
from ag_ui.core import (
    ToolMessage as AguiTool,
)
from ag_ui.core import (
    UserMessage as AguiUser,
)

from troupe.errors import RequestError
from troupe.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage
from troupe.runs import RunManager, RunStart
from troupe.server._client_tools import run_options, tool_spec
from troupe.server._service import check_conversation_id, run_input
from troupe.teams import RunOptions, Team

# The run's metadata key for the id of the last message it was sent.
LAST_MESSAGE = "agui_last_message"


def parse_input(body: bytes) -> RunAgentInput:
    """The request body as AG-UI's ``RunAgentInput``, or a 400 that names the bad field."""
    try:
        parsed = RunAgentInput.model_validate_json(body or b"null")
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise RequestError(
            f"not an AG-UI RunAgentInput: {where}: {first['msg']}", param=where
        ) from None
    check_conversation_id(parsed.thread_id, param="threadId")
    return parsed


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(getattr(part, "text", "") for part in content)
    return ""


def _message(message: Any) -> Message | None:
    if isinstance(message, AguiUser):
        return UserMessage(content=_text(message.content))
    if isinstance(message, (AguiSystem, DeveloperMessage)):
        return SystemMessage(content=_text(message.content))
    if isinstance(message, AguiAssistant) and message.content:
        return AssistantMessage(content=message.content, source=message.name or "assistant")
    if isinstance(message, AguiTool):
        # The result of a front-end tool call (the team names it after its call).
        return ToolMessage(
            call_id=message.tool_call_id,
            name="",
            content=_text(message.content) or message.error or "",
            is_error=bool(message.error),
            source="user",
        )
    return None


def _options(team: Team, agent_input: RunAgentInput) -> RunOptions:
    """The front end's tools, offered to the team's agents as client tools."""
    specs = [
        tool_spec(tool.name, tool.description, tool.parameters, None)
        for tool in agent_input.tools or ()
    ]
    return run_options(
        team,
        specs,
        tool_choice="auto",
        output_schema=None,
        tools_param="tools.{}",
        choice_param="tools",
    )


def _answer(payload: Any) -> str:
    """A resume entry's payload as the human's answer."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, dict):
        for key in ("answer", "text", "message", "content"):
            if isinstance(payload.get(key), str):
                return str(payload[key])
    return msgspec.json.encode(payload).decode() if payload is not None else ""


def _context(agent_input: RunAgentInput) -> list[Message]:
    items = agent_input.context or []
    if not items:
        return []
    lines = "\n".join(f"- {item.description}: {item.value}" for item in items)
    return [SystemMessage(content=f"Context from the application:\n{lines}", source="context")]


def _new(messages: Sequence[Any], seen: str | None) -> list[Any]:
    """The messages the server has not had yet: after the last one the thread's previous run
    was sent (else after the last assistant message). What the team said is never new."""
    ids = [m.id for m in messages]
    if seen is not None and seen in ids:
        start = len(ids) - ids[::-1].index(seen)
    else:
        start = 1 + max(
            (i for i, m in enumerate(messages) if isinstance(m, AguiAssistant)), default=-1
        )
    return [m for m in messages[start:] if not isinstance(m, AguiAssistant)]


def _answers(message: Any, agent_input: RunAgentInput, *, alone: bool) -> bool:
    """Whether a new message goes to the team: a tool message only with the result of a
    front-end tool's call. The results of the team's own tools (the front end keeps them
    from ``TOOL_CALL_RESULT``) are the thread's history; a call the thread does not show
    counts as the front end's when no user message is new (``alone``)."""
    if not isinstance(message, AguiTool):
        return True
    names = {
        call.id: call.function.name
        for m in agent_input.messages
        if isinstance(m, AguiAssistant)
        for call in m.tool_calls or ()
    }
    if message.tool_call_id in names:
        return names[message.tool_call_id] in {tool.name for tool in agent_input.tools or ()}
    return alone


async def last_seen(manager: RunManager, thread: str, scope: str) -> str | None:
    """The id of the last message the thread's previous run was sent."""
    runs = manager.local_runs(thread, scope) or await manager.store.list_runs(
        scope=scope, conversation_id=thread, limit=1
    )
    return runs[0].input.metadata.get(LAST_MESSAGE) if runs else None


def run_start(
    team: Team, agent_input: RunAgentInput, *, seen: str | None, scope: str, background: bool
) -> RunStart:
    """What to run for an AG-UI request (its errors raised here, before anything runs)."""
    unseen = _new(agent_input.messages, seen)
    alone = not any(isinstance(m, AguiUser) for m in unseen)
    fresh = [m for m in unseen if _answers(m, agent_input, alone=alone)]
    new: list[Message] = [m for m in map(_message, fresh) if m is not None]
    answers_tools = any(isinstance(m, ToolMessage) for m in new)
    everything: list[Message] = [
        m
        for m in map(_message, agent_input.messages)
        if m is not None and not isinstance(m, ToolMessage)
    ]
    if answers_tools:
        everything += [m for m in new if isinstance(m, ToolMessage)]
    if not answers_tools and not any(isinstance(m, UserMessage) for m in new):
        answers = [
            _answer(entry.payload)
            for entry in agent_input.resume or []
            if entry.status == "resolved"
        ]
        if not answers:
            raise RequestError(
                "nothing to run: the last messages must include a user message or the "
                "results of the team's tool calls (or 'resume' must answer the interrupt the "
                "thread's last run ended with)",
                param="messages",
            )
        answer = UserMessage(content="\n".join(answers))
        new.append(answer)
        everything.append(answer)
    context = _context(agent_input)
    metadata = {"agui_run_id": agent_input.run_id[:128]}
    if agent_input.messages:
        metadata[LAST_MESSAGE] = agent_input.messages[-1].id[:256]
    if agent_input.state is not None:
        metadata["agui_state"] = msgspec.json.encode(agent_input.state).decode()[:4096]
    return RunStart(
        team=team.name,
        scope=scope,
        conversation_id=agent_input.thread_id,
        messages=(*context, *new),
        all_messages=(*context, *everything),
        background=background,
        input=run_input(team, api="ag-ui", metadata=metadata, options=_options(team, agent_input)),
    )
