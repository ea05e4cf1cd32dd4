"""``FunctionTool``: a typed Python function the model can call."""

from __future__ import annotations

__all__ = ["FunctionTool", "function_tool"]

import functools
import inspect
import logging
import re
from collections.abc import Callable
from typing import Any, overload

import anyio.lowlevel
import anyio.to_thread
import msgspec

from troupe.models._base import ToolSpec
from troupe.tools._arguments import read_arguments
from troupe.tools._docstring import parse_docstring
from troupe.tools._tool import ToolOutput

logger = logging.getLogger(__name__)

# What OpenAI accepts as a function name; other providers are no looser.
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_encoder = msgspec.json.Encoder()


class FunctionTool:
    """A Python function the model can call, described by its type hints and docstring.

    The JSON schema of the arguments comes from the parameters' type hints
    (anything msgspec can decode: str, int, float, bool, Literal, enums, lists,
    tuples, dicts, Optional, Structs, dataclasses, TypedDicts). Descriptions
    come from the docstring (Google, Sphinx or NumPy style) and from
    ``Annotated[T, "description"]`` or ``Annotated[T, msgspec.Meta(description=...)]``.

    With ``strict=True`` (the default) the schema is in OpenAI's strict form:
    every parameter is required, and one with a default accepts ``null``,
    meaning "use the default". A schema that has no strict form (a
    ``dict[str, T]`` or ``Any`` parameter, a fixed-length tuple) is sent
    non-strict instead (the schema ``strict=False`` gives); ``tool.strict``
    says which was used.

    Async functions are awaited; sync functions run in a worker thread.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = True,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"cannot make a tool of {fn!r}: it is not callable")
        label = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
        tool_name = name if name is not None else getattr(fn, "__name__", "")
        if not _NAME.fullmatch(tool_name):
            raise ValueError(
                f"cannot make a tool of '{label}': tool name {tool_name!r} must be 1-64 letters, "
                "digits, '_' or '-' (pass name=...)"
            )
        docs = parse_docstring(inspect.getdoc(fn))
        self._arguments = read_arguments(fn, label, docs.params)
        self._fn = fn
        self._is_async = _is_async_callable(fn)
        schema = self._arguments.schema
        parameters, problems = self._arguments.strict_schema() if strict else (schema, [])
        if problems:
            logger.debug("tool %r is sent non-strict: %s", tool_name, "; ".join(problems))
            parameters = schema
        self._strict = strict and not problems
        self._spec = ToolSpec(
            name=tool_name,
            description=docs.description if description is None else description,
            parameters=parameters,
            strict=self._strict,
        )

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def description(self) -> str:
        return self._spec.description

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    @property
    def strict(self) -> bool:
        """Whether the model is told to follow the schema strictly."""
        return self._strict

    @property
    def fn(self) -> Callable[..., Any]:
        """The wrapped function, to call it directly."""
        return self._fn

    def __repr__(self) -> str:
        return f"FunctionTool(name={self.name!r})"

    async def call(self, arguments: str) -> ToolOutput:
        """Decode ``arguments`` (JSON text), run the function, and return its result as text.

        Bad JSON, arguments that do not match the schema and exceptions from the
        function become an error output the model can read; cancellation propagates.
        """
        try:
            decoded = self._arguments.decoder.decode(arguments.strip() or "{}")
        except msgspec.ValidationError as exc:
            return ToolOutput(f"Error: invalid arguments for tool '{self.name}': {exc}", True)
        except msgspec.DecodeError as exc:
            return ToolOutput(
                f"Error: arguments for tool '{self.name}' are not valid JSON: {exc}", True
            )
        args, kwargs = self._arguments.bind(decoded)
        try:
            if self._is_async:
                result = await self._fn(*args, **kwargs)
            else:
                result = await anyio.to_thread.run_sync(
                    functools.partial(self._fn, *args, **kwargs)
                )
                # A thread cannot be interrupted, so anyio hands back its result even
                # when the call was cancelled meanwhile; the cancellation must win.
                await anyio.lowlevel.checkpoint_if_cancelled()
            if inspect.isawaitable(result):
                result = await result
            return _to_output(result)
        except Exception as exc:
            # Cancellation is a BaseException and passes through untouched.
            logger.debug("tool %r raised", self.name, exc_info=True)
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return ToolOutput(f"Error: {message}", True)


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    )


def _to_output(result: Any) -> ToolOutput:
    if isinstance(result, ToolOutput):
        return result
    if result is None:
        return ToolOutput("")
    if isinstance(result, str):
        return ToolOutput(result)
    try:
        return ToolOutput(_encoder.encode(result).decode())
    except (TypeError, ValueError, msgspec.EncodeError):
        return ToolOutput(str(result))


@overload
def function_tool(
    fn: Callable[..., Any],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = True,
) -> FunctionTool: ...


@overload
def function_tool(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = True,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = True,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a tool of ``fn``; also a decorator, bare (``@function_tool``) or with options.

    ``name`` defaults to the function's name and ``description`` to its
    docstring's prose (everything before the Args/Returns sections).
    """
    if fn is None:
        return functools.partial(FunctionTool, name=name, description=description, strict=strict)
    return FunctionTool(fn, name=name, description=description, strict=strict)
