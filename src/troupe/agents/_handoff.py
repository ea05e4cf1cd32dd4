"""Handoffs: an agent passes control to another with a ``transfer_to_<target>`` tool."""

from __future__ import annotations

__all__ = ["STOP_TOOL", "Handoff"]

import msgspec

from troupe.models import ToolSpec

_NO_ARGUMENTS = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


class Handoff(msgspec.Struct, frozen=True, kw_only=True):
    """A handoff to ``target`` (an agent of the team, or ``"user"``)."""

    target: str
    description: str = ""
    name: str = ""
    message: str = ""

    @property
    def tool_name(self) -> str:
        return self.name or f"transfer_to_{self.target}"

    @property
    def transfer_message(self) -> str:
        return (
            self.message
            or f"Transferred to {self.target}, adopting the role of {self.target} immediately."
        )

    @property
    def spec(self) -> ToolSpec:
        description = self.description or (
            "Hand the conversation to the user: ask them a question and wait for the answer."
            if self.target == "user"
            else f"Hand off to {self.target}."
        )
        return ToolSpec(
            name=self.tool_name, description=description, parameters=_NO_ARGUMENTS, strict=True
        )


STOP_TOOL = ToolSpec(
    name="stop_run",
    description="End the team's run because the task is complete. Give the reason.",
    parameters={
        "type": "object",
        "properties": {"reason": {"type": "string", "description": "Why the run can stop."}},
        "required": ["reason"],
        "additionalProperties": False,
    },
    strict=True,
)
