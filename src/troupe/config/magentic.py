"""``kind: magentic_one`` in config: the spec and its builder (wired in spec.py / build.py)."""

from __future__ import annotations

__all__ = ["MagenticOneTeamSpec", "build_magentic_one"]

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from msgspec import Meta

from troupe.config.spec import _TeamBase
from troupe.models import DemoModel
from troupe.teams import MagenticOneTeam, Team

if TYPE_CHECKING:
    from troupe.config.build import _Builder

PositiveInt = Annotated[int, Meta(ge=1)]


class MagenticOneTeamSpec(_TeamBase, tag="magentic_one", kw_only=True, frozen=True):
    """An orchestrator model plans, picks each speaker, re-plans on stalls, answers.

    ``max_turns`` is the number of rounds before it answers with what it has (20).
    """

    kind: ClassVar[Literal["magentic_one"]] = "magentic_one"
    # The orchestrator's model (a name under ``models:``).
    model: str
    # Rounds without progress before the facts and the plan are rewritten.
    max_stalls: PositiveInt = 3
    # Invalid progress-ledger answers in a row before the run stops.
    max_ledger_retries: PositiveInt = 3
    # Replaces the prompt for the final answer (``{task}`` is the task).
    final_answer_prompt: str | None = None
    orchestrator_name: Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")] = (
        "MagenticOneOrchestrator"
    )


def build_magentic_one(
    b: _Builder, spec: MagenticOneTeamSpec, path: str
) -> tuple[Callable[..., Team], dict[str, Any]]:
    model = b.model(spec.model, f"{path}.model")
    extra: dict[str, Any] = {}
    if spec.final_answer_prompt is not None:
        extra["final_answer_prompt"] = spec.final_answer_prompt
    return MagenticOneTeam, {
        # A stand-in when the model is missing: the problem is reported, the team checked.
        "model": model or DemoModel(),
        "max_stalls": spec.max_stalls,
        "max_ledger_retries": spec.max_ledger_retries,
        "orchestrator_name": spec.orchestrator_name,
        **extra,
    }
