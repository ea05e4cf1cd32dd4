"""The ``Tool`` protocol and the result of a tool call."""

from __future__ import annotations

__all__ = ["Tool", "ToolOutput", "Toolset"]

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec

from troupe.models._base import ToolSpec


class ToolOutput(msgspec.Struct, frozen=True):
    """What a tool call produced, as the model will read it.

    ``is_error`` marks a failed call (bad arguments, an exception in the tool);
    ``content`` then says what went wrong so the model can fix its call.
    """

    content: str
    is_error: bool = False
    # Images the tool produced (``data:`` URIs): shown to a model that can see them,
    # after the tool results; ``content`` describes them for one that cannot.
    images: tuple[str, ...] = ()


@runtime_checkable
class Tool(Protocol):
    """Something an agent's model can call.

    ``call`` takes the model's arguments as JSON text and never raises for the
    tool's own failures: those come back as ``ToolOutput(is_error=True)``.
    Cancellation always propagates.
    """

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def spec(self) -> ToolSpec:
        """What the model is told about the tool."""
        ...

    async def call(self, arguments: str) -> ToolOutput: ...


@runtime_checkable
class Toolset(Protocol):
    """Tools that can change between turns (an MCP server's): listed at each turn's start."""

    async def list_tools(self) -> Sequence[Tool]: ...
