"""Rendering: a turn's events as they arrive, and earlier turns, the same way.

Each agent message is one chat bubble named after the agent, with its name
on top, opened when the message shows its first text or tool call; text is
attributed by ``message_id``, so agents writing at once (parallel graph
branches) each grow their own bubble. Tool calls and code runs are
``st.status`` boxes in the bubble of the agent's message (arguments or code
inside, the result added when it arrives), handoffs a caption, a question for
the user an info box, and errors ``st.error``. ``TurnView`` records what it
shows as ``Bubble``s, which ``show_bubble`` draws again on the next rerun.
"""

from __future__ import annotations

__all__ = ["TurnView", "show_bubble"]

import json

from streamlit.delta_generator import DeltaGenerator
from streamlit.elements.lib.mutable_status_container import StatusContainer

from troupe.adapters._base import TeamStreamHandler
from troupe.adapters.streamlit._state import Bubble, Note, Part, ToolUse
from troupe.events import (
    AgentFinished,
    AgentStarted,
    CodeExecuted,
    CodeExecutionStarted,
    HandoffOccurred,
    InputRequested,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
)

SYSTEM_AUTHOR = "troupe"
NOT_KEPT = "The team did not keep this message: send it again once this is fixed."
CURSOR = "▌"
_PREVIEW = 60


def open_bubble(box: DeltaGenerator, bubble: Bubble) -> DeltaGenerator:
    if bubble.role == "user":
        return box.chat_message("user")
    if bubble.role == "system":
        return box.chat_message(SYSTEM_AUTHOR, avatar=":material/info:")
    message = box.chat_message(bubble.author)
    message.markdown(f"**{bubble.author}**")
    return message


def show_bubble(box: DeltaGenerator, bubble: Bubble) -> None:
    """Draw a bubble of an earlier turn."""
    message = open_bubble(box, bubble)
    for part in bubble.parts:
        _show_part(message, part)


def _show_part(message: DeltaGenerator, part: Part) -> None:
    if isinstance(part, str):
        message.markdown(part)
    elif isinstance(part, ToolUse):
        failed = part.is_error or part.result is None
        status = message.status(
            tool_label(part, live=False), state="error" if failed else "complete"
        )
        _show_arguments(status, part)
        if part.result is not None:
            _show_result(status, part)
    else:
        show_note(message, part)


def show_note(message: DeltaGenerator, note: Note) -> None:
    if note.kind == "handoff":
        message.caption(f":material/swap_horiz: {note.text}")
    elif note.kind == "question":
        message.info(note.text, icon=":material/help:")
    elif note.kind == "error":
        message.error(note.text, icon=":material/error:")
    else:
        message.caption(note.text)


def tool_label(tool: ToolUse, *, live: bool = True) -> str:
    if tool.result is None:
        return f"Calling `{tool.name}`…" if live else f"`{tool.name}` did not finish"
    if tool.is_error:
        return f"`{tool.name}` failed"
    lines = tool.result.strip().splitlines() or [""]
    preview = lines[0].replace("`", "'")
    if len(preview) > _PREVIEW or len(lines) > 1:
        preview = preview[:_PREVIEW] + "…"
    return f"`{tool.name}` → `{preview}`" if preview else f"`{tool.name}` returned"


def _pretty(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments


def _show_arguments(status: DeltaGenerator, tool: ToolUse) -> None:
    if tool.language != "json":
        status.code(tool.arguments, language=tool.language)
    elif tool.arguments:
        status.caption("Arguments")
        status.code(_pretty(tool.arguments), language="json")


def _show_result(status: DeltaGenerator, tool: ToolUse) -> None:
    status.caption(
        "Error" if tool.is_error else ("Result" if tool.language == "json" else "Output")
    )
    status.code(tool.result or "", language=None, wrap_lines=True)


def handoff_note(event: HandoffOccurred) -> Note:
    text = f"**{event.agent}** hands off to **{event.target}**"
    return Note("handoff", f"{text}: {event.message}" if event.message else text)


class _Live:
    """A bubble on screen during the turn, and the text part growing at its end."""

    def __init__(self, bubble: Bubble, message: DeltaGenerator) -> None:
        self.bubble = bubble
        self.message = message
        self.text: DeltaGenerator | None = None  # the placeholder of the growing text part
        self.words = ""

    def write(self, text: str) -> None:
        if self.text is None:
            text = text.lstrip()  # text after a tool box starts a part of its own
            if not text:
                return
            self.text = self.message.empty()
            self.bubble.parts.append("")
            self.words = ""
        self.words += text
        self.bubble.parts[-1] = self.words
        self.text.markdown(self.words + CURSOR)

    def settle(self) -> None:
        """The text so far is complete (the message ended, or work comes below it)."""
        if self.text is not None:
            self.text.markdown(self.words)
            self.text = None


class TurnView(TeamStreamHandler):
    """Draws one turn into ``box`` as its events arrive; ``bubbles`` is what it drew."""

    def __init__(self, box: DeltaGenerator) -> None:
        self.box = box
        self.bubbles: list[Bubble] = []
        self.failed = False
        self._agents: dict[str, str] = {}  # open message id -> agent
        self._latest: dict[str, str] = {}  # agent -> its open message, where its work goes
        self._live: dict[str, _Live] = {}  # message id (or agent, for work outside one)
        self._tools: dict[str, tuple[ToolUse, StatusContainer]] = {}
        self._last: _Live | None = None  # the bubble opened last

    # --- hooks ---------------------------------------------------------------------

    async def on_agent_start(self, event: AgentStarted) -> None:
        self._agents[event.message_id] = event.agent
        self._latest[event.agent] = event.message_id

    async def on_text_delta(self, event: TextDelta) -> None:
        if event.text.strip() or event.message_id in self._live:
            self._bubble(event.message_id, event.agent).write(event.text)

    async def on_agent_end(self, event: AgentFinished) -> None:
        self._agents.pop(event.message_id, None)
        if self._latest.get(event.agent) == event.message_id:
            del self._latest[event.agent]
        live = self._live.pop(event.message_id, None)
        if live is not None:
            live.settle()

    async def on_tool_call(self, event: ToolCalled) -> None:
        self._start_tool(event.agent, ToolUse(event.call_id, event.name, event.arguments))

    async def on_tool_result(self, event: ToolResultReturned) -> None:
        self._end_tool(event.agent, event.call_id, event.name, event.content, event.is_error)

    async def on_code_execution(self, event: CodeExecutionStarted) -> None:
        code = ToolUse(event.execution_id, f"{event.language} code", event.code)
        code.language = event.language
        self._start_tool(event.agent, code)

    async def on_code_result(self, event: CodeExecuted) -> None:
        status = "timed out" if event.timed_out else f"exit code {event.exit_code}"
        output = f"{event.output.rstrip()}\n({status})" if event.output.strip() else f"({status})"
        failed = event.exit_code != 0 or event.timed_out
        self._end_tool(event.agent, event.execution_id, "code", output, failed)

    async def on_handoff(self, event: HandoffOccurred) -> None:
        live = self._work_bubble(event.agent)
        note = handoff_note(event)
        live.bubble.parts.append(note)
        show_note(live.message, note)

    async def on_input_requested(self, event: InputRequested) -> None:
        self._note(event.agent, Note("question", event.prompt))

    async def on_error(self, message: str, code: str | None = None) -> None:
        self.failed = True
        # A run that failed mid-message: the error goes in that agent's bubble.
        message_id = next(reversed(self._agents), None)
        if message_id is not None:
            self._bubble(message_id, self._agents[message_id])
        self._note(None, Note("error", f"{message}\n\n{NOT_KEPT}"))

    # --- what is on screen ------------------------------------------------------------

    def finish(self, stop_reason: str | None) -> None:
        """The turn is over (or was stopped): settle what is still open."""
        for live in self._live.values():
            live.settle()
        for tool, status in self._tools.values():
            if tool.result is None:  # the run ended (failed, stopped) before the tool returned
                status.update(label=tool_label(tool, live=False), state="error")
        if not self.bubbles and stop_reason is not None:
            reason = f" ({stop_reason})" if stop_reason else ""
            self._note(None, Note("info", f"The team stopped without a reply{reason}."))

    def _open(self, author: str | None) -> _Live:
        bubble = Bubble(author or SYSTEM_AUTHOR, role="agent" if author else "system")
        self.bubbles.append(bubble)
        self._last = _Live(bubble, open_bubble(self.box, bubble))
        return self._last

    def _bubble(self, message_id: str, agent: str) -> _Live:
        live = self._live.get(message_id)
        if live is None:
            live = self._live[message_id] = self._open(agent)
        return live

    def _work_bubble(self, agent: str) -> _Live:
        """The bubble of ``agent``'s open message, where its tool calls and handoffs go."""
        message_id = self._latest.get(agent)
        live = self._bubble(message_id, agent) if message_id else self._open(agent)
        live.settle()
        return live

    def _note(self, author: str | None, note: Note) -> None:
        """Add to the bubble opened last if it is ``author``'s (any, for ``None``), else a new one."""
        live = self._last
        if live is None or (author is not None and live.bubble.author != author):
            live = self._open(author)
        live.settle()
        live.bubble.parts.append(note)
        show_note(live.message, note)

    def _start_tool(self, agent: str, tool: ToolUse) -> None:
        live = self._work_bubble(agent)
        live.bubble.parts.append(tool)
        status = live.message.status(tool_label(tool), state="running")
        _show_arguments(status, tool)
        self._tools[tool.call_id] = (tool, status)

    def _end_tool(self, agent: str, call_id: str, name: str, result: str, failed: bool) -> None:
        known = self._tools.get(call_id)
        if known is None:  # a result without its call: draw both
            self._start_tool(agent, ToolUse(call_id, name, ""))
            known = self._tools[call_id]
        tool, status = known
        tool.result, tool.is_error = result, failed
        _show_result(status, tool)
        status.update(label=tool_label(tool), state="error" if failed else "complete")
