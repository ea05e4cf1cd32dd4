# Chainlit's API is only partly annotated (Message.send, Step.update, utc_now have none).
# mypy: disallow-untyped-calls=False
"""One team turn, rendered as Chainlit messages and steps.

``ChainlitRenderer`` fills in the ``TeamStreamHandler`` hooks. Messages and
steps are created lazily, when their first piece arrives, so the page reads in
the order things happened: a tool step sits above the text the agent wrote
after it, and a message an agent continues after a tool call goes on below
the step instead of growing above it.
"""

from __future__ import annotations

__all__ = ["ANSWER_ACTION", "ChainlitRenderer"]

import json
from typing import Literal

import chainlit as cl
from chainlit.context import context
from chainlit.message import MessageBase
from chainlit.utils import utc_now

from troupe.adapters._base import TeamStreamHandler, answer_choices
from troupe.events import (
    AgentFinished,
    AgentStarted,
    CodeExecuted,
    CodeExecutionStarted,
    HandoffOccurred,
    InputRequested,
    ReasoningDelta,
    RunEnded,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)

STOPPED = "Stopped before the tool returned."
# The name of the actions (buttons) that answer a team's question, e.g. approve / reject.
ANSWER_ACTION = "troupe_answer"
# A failed turn leaves the server's conversation as it was before the message.
NOT_KEPT = "The team did not keep this message: send it again once this is fixed."


class ChainlitRenderer(TeamStreamHandler):
    """Renders one turn of a team into the current Chainlit chat.

    - Each agent message streams token by token into a ``cl.Message`` whose
      author is the agent; with ``speaker_lines`` (the team has several agents)
      it starts with ``**agent:**``, since Chainlit shows authors only as a tooltip.
    - Each tool call is a ``cl.Step(type="tool")`` named after the tool, with the
      arguments as input and the result as output, marked as an error when the
      tool failed. A model's own thinking text is a ``reasoning`` step.
    - A handoff is a short line; an input request is the question, as a message,
      with a button per answer the team expects (an approval's approve / reject:
      ``ANSWER_ACTION`` actions, whose ``payload["answer"]`` is the answer).
    - A failed turn (server down, refused key, failed run) is a ``cl.ErrorMessage``.

    Steps go under ``parent_id``, by default the step that is running when they
    are created (Chainlit's ``on_message`` run), where messages go by themselves.
    Use one renderer per turn; subclass it and override a hook to change how an
    event looks, calling ``super()`` to keep the default as well.
    """

    def __init__(self, *, speaker_lines: bool = False, parent_id: str | None = None) -> None:
        self.speaker_lines = speaker_lines
        self.parent_id = parent_id
        # Everything this turn sent, in order: messages and steps.
        self.sent: list[MessageBase | cl.Step] = []
        self._agents: dict[str, str] = {}  # message id -> agent
        self._open: dict[str, cl.Message] = {}  # message id -> message being streamed
        self._introduced: set[str] = set()  # message ids whose speaker line is on the page
        self._tools: dict[str, cl.Step] = {}  # call id -> running tool step
        self._thinking: dict[str, cl.Step] = {}  # message id -> reasoning step
        # The question this turn ended with, when it offers answers as buttons.
        self.question: cl.Message | None = None

    # --- hooks -------------------------------------------------------------------

    async def on_agent_start(self, event: AgentStarted) -> None:
        self._agents[event.message_id] = event.agent

    async def on_text_delta(self, event: TextDelta) -> None:
        text = event.text
        message = self._open.get(event.message_id)
        if message is None:
            # A message starts at its first word (text after a tool step
            # arrives with the blank line that separated it from the text before).
            text = text.lstrip()
            if not text:
                return
            await self._close_thinking(event.message_id)
            message = await self._new_message(event.message_id, event.agent)
        await message.stream_token(text)

    async def on_reasoning_delta(self, event: ReasoningDelta) -> None:
        if not event.text:
            return
        step = self._thinking.get(event.message_id)
        if step is None:
            await self._close_message(event.message_id)
            step = self._thinking[event.message_id] = await self._new_step("reasoning", "llm")
        await step.stream_token(event.text)

    async def on_agent_end(self, event: AgentFinished) -> None:
        await self._close_thinking(event.message_id)
        await self._close_message(event.message_id)

    async def on_tool_call(self, event: ToolCalled) -> None:
        # Text the agent wrote before the call stays above the step; what it
        # writes after the result starts a new message below it.
        for message_id, agent in self._agents.items():
            if agent == event.agent:
                await self._close_thinking(message_id)
                await self._close_message(message_id)
        step = await self._new_step(event.name, "tool", input=_pretty(event.arguments))
        self._tools[event.call_id] = step

    async def on_tool_result(self, event: ToolResultReturned) -> None:
        step = self._tools.pop(event.call_id, None)
        if step is None:  # a result without its call: show it anyway
            step = await self._new_step(event.name, "tool")
        step.output = event.content
        step.language = "json" if _is_json(event.content) else "text"
        step.is_error = event.is_error
        step.end = utc_now()
        await step.update()

    async def on_code_execution(self, event: CodeExecutionStarted) -> None:
        for message_id, agent in self._agents.items():
            if agent == event.agent:
                await self._close_message(message_id)
        step = await self._new_step(f"{event.language} code", "tool", input=event.code)
        step.language = event.language
        self._tools[event.execution_id] = step

    async def on_code_result(self, event: CodeExecuted) -> None:
        step = self._tools.pop(event.execution_id, None)
        if step is None:
            step = await self._new_step("code", "tool")
        status = "timed out" if event.timed_out else f"exit code {event.exit_code}"
        step.output = f"{event.output}\n({status})" if event.output else f"({status})"
        step.language = "text"
        step.is_error = event.exit_code != 0 or event.timed_out
        step.end = utc_now()
        await step.update()

    async def on_handoff(self, event: HandoffOccurred) -> None:
        text = f"*{event.agent} hands off to {event.target}*"
        if event.message:
            text += f": {event.message}"
        await self._say(event.agent, text)

    async def on_input_requested(self, event: InputRequested) -> None:
        # The question is for the person reading, as it is: no speaker line.
        await self.close()
        actions = [
            cl.Action(name=ANSWER_ACTION, payload={"answer": answer}, label=label)
            for label, answer in answer_choices(event)
        ]
        question = await self._say(event.agent, event.prompt, actions=actions)
        if actions:
            self.question = question

    async def on_run_end(self, event: RunEnded) -> None:
        await self.close()

    async def on_error(self, message: str, code: str | None = None) -> None:
        await self.close()
        error = cl.ErrorMessage(content=f"{message}\n\n{NOT_KEPT}", author="troupe")
        await error.send()
        self.sent.append(error)

    # --- the turn's open elements ---------------------------------------------------

    async def close(self, *, stopped: bool = False) -> None:
        """Finish every message and step still open; ``stopped``: the user stopped the turn."""
        for message_id in list(self._thinking):
            await self._close_thinking(message_id)
        for message_id in list(self._open):
            await self._close_message(message_id)
        for call_id, step in list(self._tools.items()):
            del self._tools[call_id]
            step.output = STOPPED if stopped else "No result."
            step.is_error = True
            step.end = utc_now()
            await step.update()

    async def _new_message(self, message_id: str, agent: str) -> cl.Message:
        line = ""
        if self.speaker_lines and message_id not in self._introduced:
            line = f"**{agent}:** "
        self._introduced.add(message_id)
        message = cl.Message(content=line, author=agent)
        await message.send()
        self._open[message_id] = message
        self.sent.append(message)
        return message

    async def _close_message(self, message_id: str) -> None:
        message = self._open.pop(message_id, None)
        if message is not None:
            await message.update()

    async def _close_thinking(self, message_id: str) -> None:
        step = self._thinking.pop(message_id, None)
        if step is not None:
            step.end = utc_now()
            await step.update()

    async def _new_step(
        self, name: str, kind: Literal["tool", "llm"], *, input: str | None = None
    ) -> cl.Step:
        parent = self.parent_id
        if parent is None and context.current_step is not None:
            parent = context.current_step.id
        show_input = "json" if input else False
        step = cl.Step(name=name, type=kind, parent_id=parent, show_input=show_input)
        if input:
            step.input = input
        step.start = utc_now()
        await step.send()
        self.sent.append(step)
        return step

    async def _say(
        self, agent: str, text: str, actions: list[cl.Action] | None = None
    ) -> cl.Message:
        message = cl.Message(content=text, author=agent, actions=actions)
        await message.send()
        self.sent.append(message)
        return message


def _is_json(text: str) -> bool:
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _pretty(arguments: str) -> str:
    """Tool arguments as indented JSON (as sent, if they are not JSON)."""
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments
