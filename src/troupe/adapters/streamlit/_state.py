"""What the chat component remembers: the messages on screen and the conversation.

A ``ChatState`` lives in ``st.session_state`` under the component's key. The
Streamlit process also keeps recent conversations in ``TRANSCRIPTS`` by
conversation id, so a reloaded page (a new session, the id in its URL) shows
the conversation it continues.
"""

from __future__ import annotations

__all__ = ["TRANSCRIPTS", "Bubble", "ChatState", "Note", "Part", "ToolUse", "Transcripts"]

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal


@dataclass
class ToolUse:
    """A tool call (or a code run) and, once it returned, its result."""

    call_id: str
    name: str
    arguments: str  # JSON text for a tool call; the code for a code run
    result: str | None = None
    is_error: bool = False
    language: str = "json"  # of ``arguments``: ``json``, or the code's language


@dataclass(frozen=True)
class Note:
    """A line about the team's work rather than its words."""

    kind: Literal["handoff", "question", "error", "info"]
    text: str


Part = str | ToolUse | Note


@dataclass
class Bubble:
    """One chat message on screen: the user's, one agent's, or troupe's own (errors)."""

    author: str
    role: Literal["user", "agent", "system"] = "agent"
    parts: list[Part] = field(default_factory=list)

    def add_text(self, text: str) -> None:
        if self.parts and isinstance(self.parts[-1], str):
            self.parts[-1] += text
        else:
            self.parts.append(text)


@dataclass
class ChatState:
    """One component's conversation with one team."""

    team: str
    conversation_id: str | None = None
    bubbles: list[Bubble] = field(default_factory=list)
    # The team's pending question: the next message the user sends answers it.
    question: str | None = None
    asker: str = ""
    # Answers offered as buttons for the question, as (label, answer sent).
    choices: list[tuple[str, str]] = field(default_factory=list)


class Transcripts:
    """The most recent conversations, by conversation id, for reloaded pages."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._states: OrderedDict[str, ChatState] = OrderedDict()
        self._lock = threading.Lock()

    def save(self, state: ChatState) -> None:
        if not state.conversation_id:
            return
        snapshot = copy.deepcopy(state)
        with self._lock:
            self._states[state.conversation_id] = snapshot
            self._states.move_to_end(state.conversation_id)
            while len(self._states) > self.limit:
                self._states.popitem(last=False)

    def load(self, conversation_id: str, team: str) -> ChatState | None:
        with self._lock:
            state = self._states.get(conversation_id)
        if state is None or state.team != team:
            return None
        return copy.deepcopy(state)


TRANSCRIPTS = Transcripts()
