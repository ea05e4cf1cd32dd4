"""What the run manager is asked and answers with: a start, its settings, its errors."""

from __future__ import annotations

__all__ = [
    "Admission",
    "BusyPolicy",
    "RunNotFoundError",
    "RunSettings",
    "RunStart",
    "ServerShuttingDownError",
    "busy_error",
    "check_input",
    "is_run_id",
    "new_conversation_id",
    "new_run_id",
]

import re
from typing import Literal, Protocol

import msgspec

from troupe._ids import unique_hex
from troupe.errors import ConversationBusyError, RequestError, TroupeError
from troupe.messages import Message
from troupe.store import RunInput
from troupe.teams import RunState, Team

BusyPolicy = Literal["reject", "enqueue"]

# Where each API's request carries its messages (the ``param`` of their errors).
_INPUT_PARAM = {"chat": "messages", "responses": "input"}


class RunNotFoundError(RequestError):
    status_code = 404
    code = "run_not_found"


class ServerShuttingDownError(TroupeError):
    status_code = 503
    error_type = "server_error"
    code = "server_shutting_down"


class RunSettings(msgspec.Struct, frozen=True, kw_only=True):
    busy_policy: BusyPolicy = "reject"
    busy_wait_seconds: float = 30.0
    max_transcript_bytes: int | None = None
    lease_seconds: float = 30.0
    # How often live runs' events go to the store when no step ends meanwhile (what
    # followers on other replicas wait at most; a background run's go within 50 ms, its
    # own views wait for them), and how often cancels are polled for.
    flush_seconds: float = 1.0
    poll_seconds: float = 1.0


class RunStart(msgspec.Struct, frozen=True, kw_only=True):
    """What a view asks for: run ``team`` on a conversation with new messages.

    ``messages`` are the new messages for a conversation that exists; ``all_messages``
    are every message the client sent, which start a conversation that does not.
    """

    team: str
    scope: str = ""
    conversation_id: str | None = None
    messages: tuple[Message, ...] = ()
    all_messages: tuple[Message, ...] | None = None
    background: bool = False
    input: RunInput = RunInput()


class Admission(Protocol):
    """What a run must pass to start (an API key's teams and limits): raises if refused."""

    async def admit(self, start: RunStart) -> None: ...


_RUN_ID = re.compile(r"run_[A-Za-z0-9]{1,64}")


def new_run_id() -> str:
    """A new run's id: unique, and in the order runs start in this process (ids that follow
    each other are stored side by side: a write of many runs touches few pages)."""
    return f"run_{unique_hex(24)}"


def new_conversation_id() -> str:
    """A conversation's id minted by troupe (as ``new_run_id``)."""
    return f"conv_{unique_hex(32)}"


def is_run_id(text: str) -> bool:
    """Whether ``text`` can be a run's id (others are not found without asking the store)."""
    return _RUN_ID.fullmatch(text) is not None


def check_input(
    team: Team, state: RunState, messages: tuple[Message, ...], start: RunStart
) -> tuple[Message, ...]:
    """``messages`` if they can start a run on ``state``, else the request's 400."""
    problem = team.input_problem(state, messages)
    if problem is not None:
        raise RequestError(problem, param=_INPUT_PARAM.get(start.input.api, "messages"))
    return messages


def busy_error(conversation_id: str) -> ConversationBusyError:
    return ConversationBusyError(
        f"conversation {conversation_id!r} is busy with another request; retry when it ends"
    )
