"""Rendering: a turn's events as they arrive, and earlier turns, the same way.

Each agent's message is a chat bubble named after the agent, with its name on
top; its text streams through ``st.write_stream``. Tool calls are ``st.status``
boxes in the bubble of the agent that called them (arguments inside, the
result added when it arrives), handoffs a caption, a question for the user an
info box, and errors ``st.error``. ``TurnView`` records what it shows as
``Bubble``s, which ``show_bubble`` draws again on the next rerun.
"""

from __future__ import annotations

__all__ = ["TurnView", "show_bubble"]

import json
from collections.abc import Callable, Iterator
from functools import partial

from streamlit.delta_generator import DeltaGenerator
from streamlit.elements.lib.mutable_status_container import StatusContainer

from troupe.adapters._base import TurnOutcome
from troupe.adapters.streamlit._state import Bubble, Note, Part, ToolUse
from troupe.adapters.streamlit._turn import Item, TurnFailed
from troupe.events import (
    AgentFinished,
    AgentStarted,
    HandoffOccurred,
    InputRequested,
    ReasoningDelta,
    RunEnded,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
    UsageReported,
)

SYSTEM_AUTHOR = "troupe"
NOT_KEPT = "The team did not keep this message: send it again once this is fixed."
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
    if tool.arguments:
        status.caption("Arguments")
        status.code(_pretty(tool.arguments), language="json")


def _show_result(status: DeltaGenerator, tool: ToolUse) -> None:
    status.caption("Error" if tool.is_error else "Result")
    status.code(tool.result or "", language=None, wrap_lines=True)


def handoff_note(event: HandoffOccurred) -> Note:
    text = f"**{event.agent}** hands off to **{event.target}**"
    return Note("handoff", f"{text}: {event.message}" if event.message else text)


class TurnView:
    """Draws one turn into ``box`` as its items arrive; ``bubbles`` is what it drew."""

    def __init__(self, box: DeltaGenerator, items: Iterator[Item]) -> None:
        self.box = box
        self.items = items
        self.bubbles: list[Bubble] = []
        self.outcome: TurnOutcome | None = None
        self.failure: TurnFailed | None = None
        self._held: Item | None = None
        self._current: tuple[Bubble, DeltaGenerator] | None = None
        self._tools: dict[str, tuple[ToolUse, StatusContainer]] = {}

    def run(self) -> None:
        """Consume the turn; closes its iterator (and so its request) however it ends."""
        try:
            while (item := self._next()) is not None:
                self._route(item)
        finally:
            close = getattr(self.items, "close", None)
            if close is not None:
                close()
        for tool, status in self._tools.values():
            if tool.result is None:  # the run ended (failed) before the tool returned
                status.update(label=tool_label(tool, live=False), state="error")
        if not self.bubbles and self.outcome is not None:
            reason = f" ({self.outcome.stop_reason})" if self.outcome.stop_reason else ""
            self._add_note(None, Note("info", f"The team stopped without a reply{reason}."))

    def _next(self) -> Item | None:
        if self._held is not None:
            item, self._held = self._held, None
            return item
        return next(self.items, None)

    def _route(self, item: Item) -> None:
        if isinstance(item, TurnOutcome):
            self.outcome = item
        elif isinstance(item, TurnFailed):
            self.failure = item
            self._add_note(None, Note("error", f"{item.message}\n\n{NOT_KEPT}"))
        elif isinstance(item, InputRequested):
            self._add_note(item.agent, Note("question", item.prompt))
        elif isinstance(item, AgentStarted):
            self._stream(item.agent, item.message_id)
        elif isinstance(item, TextDelta):
            self._held = item
            self._stream(item.agent, item.message_id)
        elif isinstance(item, ToolCalled | HandoffOccurred):
            self._held = item
            self._stream(item.agent, None)
        elif isinstance(item, ToolResultReturned):
            self._tool_result(item)
        # Usage, agent_end, run_end and event types added later: nothing to draw.

    def _open(self, author: str | None) -> tuple[Bubble, DeltaGenerator]:
        bubble = Bubble(author or SYSTEM_AUTHOR, role="agent" if author else "system")
        self.bubbles.append(bubble)
        self._current = (bubble, open_bubble(self.box, bubble))
        return self._current

    def _add_note(self, author: str | None, note: Note) -> None:
        """Add to the current bubble if it is ``author``'s (any, for ``None``), else to a new one."""
        current = self._current
        if current is None or (author is not None and current[0].author != author):
            current = self._open(author)
        bubble, message = current
        bubble.parts.append(note)
        show_note(message, note)

    def _stream(self, agent: str, message_id: str | None) -> None:
        bubble, message = self._open(agent)
        message.write_stream(self._pieces(bubble, message, message_id), cursor="▌")

    def _pieces(
        self, bubble: Bubble, message: DeltaGenerator, message_id: str | None
    ) -> Iterator[str | Callable[[], None]]:
        """One agent message: its text, and callables that draw its work in between."""
        while (item := self._next()) is not None:
            mine = not isinstance(item, TurnFailed | TurnOutcome) and item.agent == bubble.author
            if isinstance(item, TextDelta) and mine and message_id in (None, item.message_id):
                message_id = item.message_id
                bubble.add_text(item.text)
                yield item.text
            elif isinstance(item, ToolCalled) and mine:
                yield partial(self._tool_call, bubble, message, item)
            elif isinstance(item, ToolResultReturned):
                yield partial(self._tool_result, item)
            elif isinstance(item, HandoffOccurred) and mine:
                note = handoff_note(item)
                bubble.parts.append(note)
                yield partial(show_note, message, note)
            elif isinstance(item, AgentFinished):
                if item.message_id == message_id:
                    return
            elif not isinstance(item, UsageReported | ReasoningDelta | RunEnded):
                self._held = item  # the next bubble's, or the turn's end
                return

    def _tool_call(self, bubble: Bubble, message: DeltaGenerator, event: ToolCalled) -> None:
        tool = ToolUse(event.call_id, event.name, event.arguments)
        bubble.parts.append(tool)
        status = message.status(tool_label(tool), state="running")
        _show_arguments(status, tool)
        self._tools[event.call_id] = (tool, status)

    def _tool_result(self, event: ToolResultReturned) -> None:
        known = self._tools.get(event.call_id)
        if known is None:  # a result without its call: draw both
            bubble, message = self._current or self._open(event.agent)
            call = ToolCalled(
                agent=event.agent, call_id=event.call_id, name=event.name, arguments=""
            )
            self._tool_call(bubble, message, call)
            known = self._tools[event.call_id]
        tool, status = known
        tool.result, tool.is_error = event.content, event.is_error
        _show_result(status, tool)
        status.update(label=tool_label(tool), state="error" if tool.is_error else "complete")
