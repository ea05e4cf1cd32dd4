"""What each event of a run becomes for clients: ``content``, ``reasoning_content``, ``troupe``.

``Renderer`` is shared by the stream encoder and the non-stream builder in
``troupe.wire``, so both carry the same answer. Its rule for concurrent
agents (parallel graph branches): ``content`` and ``reasoning_content`` carry
whole messages one after another, while ``delta.troupe`` stays live.
"""

from __future__ import annotations

__all__ = ["Rendered", "Renderer", "answer_text", "readable"]

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import msgspec

from troupe.events import (
    AgentFinished,
    AgentStarted,
    ClientToolsRequested,
    CodeExecuted,
    CodeExecutionStarted,
    Event,
    HandoffOccurred,
    InputRequested,
    MemoryQueried,
    MemoryRecalled,
    ReasoningDelta,
    RunEnded,
    RunFailed,
    RunResumed,
    RunStarted,
    SpeakerSelected,
    TextDelta,
    ToolCalled,
    ToolResultReturned,
    UsageReported,
)

_RESULT_PREVIEW = 500
# The events that may change what ``content`` carries (the others write only to
# ``reasoning_content``, or nothing).
_TO_CONTENT = frozenset(
    {TextDelta, AgentStarted, AgentFinished, RunResumed, RunEnded, RunFailed, InputRequested}
)


class Rendered(NamedTuple):
    """What one event becomes on the wire: any of these may be None."""

    content: str | None
    reasoning: str | None
    troupe: Event | None
    status: str | None


class _Slot:
    """One message's text on one channel (or a piece of text of no message)."""

    __slots__ = ("emitted", "finished", "labelled", "pieces")

    def __init__(self, *, finished: bool = False) -> None:
        self.pieces: list[str] = []  # held text, released when the slot's turn comes
        self.finished = finished
        self.labelled = False  # its speaker line is written (into ``pieces`` or out)
        self.emitted = False  # some of its text went out


class _Channel:
    """``content`` or ``reasoning_content``: whole messages, one after another.

    The first message to write holds the channel and streams live; messages
    that write meanwhile are held, and released whole when it ends (in the
    order they began writing), the first one still open then streaming live
    in its turn. ``gap`` puts a blank line before each message after the first.
    """

    def __init__(self, *, gap: bool) -> None:
        self.gap = gap
        self.wrote = False
        self.queue: list[_Slot] = []  # queue[0], if any, is an open message: it is live
        self.slots: dict[str, _Slot] = {}  # open messages that wrote here, by message id

    def write(self, key: str | None, text: str, label: str | None = None) -> str:
        """Add ``text`` of message ``key`` (None: of no message); returns what goes out now.

        A write with a ``label`` (a speaker line, maybe empty) is the message's
        own text: the label goes before the first such write.
        """
        if key is None:
            slot = _Slot(finished=True)
            self.queue.append(slot)
        else:
            slot = self.slots.get(key) or _Slot()
            if key not in self.slots:
                self.slots[key] = slot
                self.queue.append(slot)
        if label is not None and not slot.labelled:
            text = label + text
            slot.labelled = True
        if slot is not self.queue[0]:
            slot.pieces.append(text)
            return ""
        out = self._emit(slot, text)
        if slot.finished:
            self.queue.pop(0)
        return out

    def live(self, key: str) -> bool:
        """Whether text of ``key`` goes out as it is (no speaker line or gap to add)."""
        slot = self.slots.get(key)
        return slot is not None and slot.emitted and slot.labelled and slot is self.queue[0]

    def finish(self, key: str) -> str:
        """Message ``key`` ended; returns the held text this releases."""
        slot = self.slots.pop(key, None)
        if slot is None:
            return ""
        slot.finished = True
        return self._advance() if slot is self.queue[0] else ""

    def abandon(self, keys: Iterable[str]) -> str:
        """Messages ``keys`` will never end: what was shown stays, what was held goes."""
        doomed = [self.slots.pop(key) for key in keys if key in self.slots]
        head = self.queue[0] if self.queue else None
        for slot in doomed:
            if slot is not head:
                self.queue.remove(slot)
        if head is None or head not in doomed:
            return ""
        head.finished = True
        return self._advance()

    def flush(self) -> str:
        """The run is over: everything held, in order."""
        out = "".join(self._emit(slot, "".join(slot.pieces)) for slot in self.queue)
        self.queue.clear()
        self.slots.clear()
        return out

    def _advance(self) -> str:
        self.queue.pop(0)
        out: list[str] = []
        while self.queue:
            head = self.queue[0]
            out.append(self._emit(head, "".join(head.pieces)))
            head.pieces.clear()
            if not head.finished:
                break
            self.queue.pop(0)
        return "".join(out)

    def _emit(self, slot: _Slot, text: str) -> str:
        if not text:
            return ""
        if self.gap and self.wrote and not slot.emitted:
            text = "\n\n" + text
        slot.emitted = self.wrote = True
        return text


class _Open(NamedTuple):
    agent: str
    to_content: bool
    tag: TextDelta  # the text tag sent while messages interleave


class Renderer:
    """Turns events into what clients read; one per run, it tracks open messages.

    ``answer_agents`` names the agents whose text is the team's answer
    (``content``); the others' text goes to ``reasoning_content``. With
    ``speaker_lines`` each answer message starts with a ``**agent:**`` line,
    written with the message's first text (a message without text has none).

    ``content`` and ``reasoning_content`` carry whole messages one after
    another: while agents run concurrently, the message that wrote first
    streams live and the others are held, then released whole when it ends.
    ``delta.troupe`` stays live: text that is held, or that goes out after a
    speaker line, rides in the ``text`` event's own ``text`` field.
    """

    def __init__(self, answer_agents: frozenset[str] | None = None, speaker_lines: bool = False):
        self.answer_agents = answer_agents
        self.speaker_lines = speaker_lines
        self.open: dict[str, _Open] = {}  # message id -> the open message, in start order
        self._latest: dict[str, str] = {}  # agent -> its open message (tool lines go there)
        self._content = _Channel(gap=True)
        self._reasoning = _Channel(gap=False)
        # Everything written to ``content``: the answer a client will send back as history.
        self.content: list[str] = []
        # (message id, to content) of the last text ``fast_text`` let through: the same
        # message's next text goes the same way until ``render`` changes anything.
        self._fast: tuple[str, bool] | None = None

    @property
    def answer(self) -> str:
        return "".join(self.content)

    def answers(self, agent: str) -> bool:
        return self.answer_agents is None or agent in self.answer_agents

    def render(self, event: Event) -> Rendered:
        self._fast = None
        rendered = self._render(event)
        if rendered.content:
            self.content.append(rendered.content)
        return rendered

    def fast_text(self, event: TextDelta) -> bool | None:
        """The encoder's hot path: True (``content``) or False (``reasoning_content``)
        when ``event``'s text goes out alone, as it is, untagged; None otherwise."""
        fast = self._fast
        if fast is not None and fast[0] == event.message_id and event.text:
            if fast[1]:
                self.content.append(event.text)
            return fast[1]
        if len(self.open) != 1 or not event.text:
            return None
        opened = self.open.get(event.message_id)
        if opened is None:
            return None
        if opened.to_content:
            if not self._content.live(event.message_id):
                return None
            self.content.append(event.text)
            self._fast = (event.message_id, True)
            return True
        if not self._reasoning.live(event.message_id):
            return None
        self._fast = (event.message_id, False)
        return False

    def _render(self, event: Event) -> Rendered:
        match event:
            case TextDelta():
                return self._text(event)
            case RunStarted() | UsageReported():  # nothing to read, no status
                return Rendered(None, None, event, None)
            case AgentStarted():
                self.open[event.message_id] = _Open(
                    event.agent,
                    self.answers(event.agent),
                    TextDelta(agent=event.agent, message_id=event.message_id),
                )
                self._latest[event.agent] = event.message_id
                return Rendered(None, None, event, f"{event.agent} is working")
            case AgentFinished():
                self._close(event.message_id)
                content = self._content.finish(event.message_id)
                reasoning = self._reasoning.finish(event.message_id)
                return Rendered(content or None, reasoning or None, event, None)
            case ReasoningDelta():
                out = self._reasoning.write(event.message_id, event.text) if event.text else ""
                shown = out == event.text
                tag = msgspec.structs.replace(event, text="") if shown else event
                return Rendered(None, out or None, tag, None)
            case RunEnded() | RunFailed():
                self.open.clear()
                self._latest.clear()
                content, reasoning = self._content.flush(), self._reasoning.flush()
                return Rendered(content or None, reasoning or None, event, None)
            case RunResumed():
                abandoned = list(self.open)
                self.open.clear()
                self._latest.clear()
                content = self._content.abandon(abandoned)
                reasoning = self._reasoning.abandon(abandoned)
                return Rendered(content or None, reasoning or None, event, None)
            case InputRequested():
                if self.answer.rstrip().endswith(event.prompt.strip()):
                    # A handoff to the user: the question is the agent's own last words.
                    return Rendered(None, None, event, "waiting for your answer")
                return Rendered(
                    self._content.write(None, event.prompt) or None,
                    None,
                    event,
                    "waiting for your answer",
                )
        readable, status = _readable(event)
        if readable is None:
            return Rendered(None, None, event, status)
        key = None if isinstance(event, SpeakerSelected) else self._latest.get(event.agent)
        return Rendered(None, self._reasoning.write(key, readable) or None, event, status)

    def _text(self, event: TextDelta) -> Rendered:
        opened = self.open.get(event.message_id)
        key = event.message_id
        if not event.text:
            return Rendered(None, None, None, None)
        if opened.to_content if opened is not None else self.answers(event.agent):
            label = f"**{event.agent}:** " if self.speaker_lines else ""
            out = self._content.write(key, event.text, label)
            rendered = Rendered(out or None, None, None, None)
        else:
            out = self._reasoning.write(key, event.text, f"\n\n**{event.agent}:** ")
            rendered = Rendered(None, out or None, None, None)
        if out != event.text:
            tag: TextDelta | None = event  # held, or after a speaker line: the text rides here
        else:
            tag = opened.tag if opened is not None and len(self.open) > 1 else None
        return rendered._replace(troupe=tag)

    def _close(self, message_id: str) -> None:
        opened = self.open.pop(message_id, None)
        if opened is not None and self._latest.get(opened.agent) == message_id:
            del self._latest[opened.agent]


def answer_text(
    events: Sequence[Event],
    answer_agents: frozenset[str] | None = None,
    speaker_lines: bool = False,
) -> str:
    """The answer ``content`` carries for a run's ``events``, stream and non-stream alike.

    What a plain client sends back as the assistant's message: the run's
    conversation fingerprint is computed from it.
    """
    if not speaker_lines:
        single = _one_message_answer(events, answer_agents)
        if single is not None:
            return single
    renderer = Renderer(answer_agents, speaker_lines)
    render = renderer.render
    # A message's consecutive deltas are rendered as one: the renderer writes the same
    # text for them (its speaker line and gap come before a message's first text). Events
    # that write only to ``reasoning_content`` are left out: they change nothing here.
    head: TextDelta | None = None
    current: str | None = None  # the head's message
    pieces: list[str] = []
    for event in events:
        if type(event) is TextDelta:
            if event.message_id == current:
                pieces.append(event.text)
                continue
            if head is not None:
                render(msgspec.structs.replace(head, text="".join(pieces)))
            head, current, pieces = event, event.message_id, [event.text]
        elif type(event) in _TO_CONTENT:
            if head is not None:
                render(msgspec.structs.replace(head, text="".join(pieces)))
                head = current = None
            render(event)
    if head is not None:
        render(msgspec.structs.replace(head, text="".join(pieces)))
    return renderer.answer


def _one_message_answer(
    events: Sequence[Event], answer_agents: frozenset[str] | None
) -> str | None:
    """The answer of a run whose ``content`` is one answering message's text (most runs,
    without speaker lines): that text as it came, with no renderer. None for any other run."""
    message: str | None = None
    texts: list[str] = []
    for event in events:
        if type(event) is TextDelta:
            if event.message_id != message:  # another message's text (or of none)
                return None
            texts.append(event.text)
        elif type(event) is AgentStarted:
            if message is not None or (
                answer_agents is not None and event.agent not in answer_agents
            ):
                return None
            message = event.message_id
        elif type(event) is InputRequested or type(event) is RunResumed:  # write to content
            return None
    return "".join(texts)


def readable(event: Event) -> tuple[str | None, str | None]:
    """The human-readable line of a work event (a tool call, a handoff, …) and its status."""
    return _readable(event)


def _readable(event: Event) -> tuple[str | None, str | None]:
    """The human-readable line of a work event for ``reasoning_content``, and its status."""
    if isinstance(event, ToolCalled):
        readable = f"\n\n`{event.agent}` calls `{event.name}({event.arguments})`\n"
        return readable, f"{event.agent} calls {event.name}"
    if isinstance(event, ToolResultReturned):
        verb = "failed" if event.is_error else "returned"
        preview = event.content[:_RESULT_PREVIEW]
        if len(event.content) > _RESULT_PREVIEW:
            preview += "…"
        return f"`{event.name}` {verb}: {preview}\n", None
    if isinstance(event, HandoffOccurred):
        readable = f"\n\n`{event.agent}` hands off to `{event.target}`\n"
        return readable, f"{event.agent} hands off to {event.target}"
    if isinstance(event, CodeExecutionStarted):
        readable = (
            f"\n\n`{event.agent}` runs {event.language}:\n```{event.language}\n{event.code}\n```\n"
        )
        return readable, f"{event.agent} runs {event.language} code"
    if isinstance(event, CodeExecuted):
        status = "timed out" if event.timed_out else f"exit code {event.exit_code}"
        return f"{status}:\n```\n{event.output[:_RESULT_PREVIEW]}\n```\n", None
    if isinstance(event, ClientToolsRequested):
        calls = ", ".join(f"`{call.name}({call.arguments})`" for call in event.calls)
        return f"\n\n`{event.agent}` asks the client to run {calls}\n", "waiting for your tools"
    if isinstance(event, SpeakerSelected):
        readable = f"\n\n`{event.team or 'team'}` chooses `{event.agent}`\n"
        return readable, f"{event.agent} speaks next"
    if isinstance(event, MemoryQueried):
        return None, f"{event.agent} searches its memory"
    if isinstance(event, MemoryRecalled):
        found = f"{len(event.contents)} item{'s' * (len(event.contents) != 1)}"
        return f"\n\n`{event.agent}` recalls {found} from `{event.memory}`\n", None
    return None, None
