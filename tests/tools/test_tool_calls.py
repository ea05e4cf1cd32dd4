"""Calling a function tool with the model's JSON arguments."""

from __future__ import annotations

import dataclasses
import threading
from typing import Annotated

import anyio
import anyio.from_thread
import msgspec
import pytest

from troupe.tools import FunctionTool, Tool, ToolOutput, function_tool

pytestmark = pytest.mark.anyio


class Point(msgspec.Struct):
    x: int
    y: int


@dataclasses.dataclass
class Area:
    name: str
    size: float


def test_function_tool_is_a_tool() -> None:
    tool = function_tool(lambda_free_add)
    assert isinstance(tool, FunctionTool)
    assert isinstance(tool, Tool)


def lambda_free_add(a: int, b: int = 1) -> int:
    return a + b


async def test_sync_function_runs_in_a_worker_thread() -> None:
    threads: list[int] = []

    def where() -> str:
        threads.append(threading.get_ident())
        return "ok"

    assert await function_tool(where).call("{}") == ToolOutput("ok")
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


async def test_async_function_is_awaited_on_the_event_loop() -> None:
    threads: list[int] = []

    async def where() -> str:
        threads.append(threading.get_ident())
        await anyio.lowlevel.checkpoint()
        return "ok"

    assert await function_tool(where).call("{}") == ToolOutput("ok")
    assert threads == [threading.get_ident()]


async def test_arguments_are_decoded_into_typed_values() -> None:
    seen: list[object] = []

    def record(point: Point, area: Area, tags: tuple[str, ...]) -> None:
        seen.extend([point, area, tags])

    args = '{"point": {"x": 1, "y": 2}, "area": {"name": "yard", "size": 3}, "tags": ["a"]}'
    assert await function_tool(record).call(args) == ToolOutput("")
    assert seen == [Point(1, 2), Area("yard", 3.0), ("a",)]


async def test_null_or_missing_means_the_default() -> None:
    tool = function_tool(lambda_free_add)
    assert await tool.call('{"a": 2, "b": null}') == ToolOutput("3")
    assert await tool.call('{"a": 2}') == ToolOutput("3")
    assert await tool.call('{"a": 2, "b": 5}') == ToolOutput("7")


def positional(a: int, b: int = 10, /, *, c: int = 100) -> int:
    return a + b + c


async def test_positional_only_parameters() -> None:
    tool = function_tool(positional)
    assert await tool.call('{"a": 1, "b": null, "c": 2}') == ToolOutput("13")
    assert await tool.call('{"a": 1, "b": 2, "c": null}') == ToolOutput("103")


async def test_empty_arguments_mean_no_arguments() -> None:
    assert await function_tool(lambda_free_add, name="noargs").call(" ") == ToolOutput(
        "Error: invalid arguments for tool 'noargs': Object missing required field `a`",
        is_error=True,
    )

    def ping() -> str:
        return "pong"

    assert await function_tool(ping).call("") == ToolOutput("pong")


@pytest.mark.parametrize(
    ("result", "content"),
    [
        ("plain text", "plain text"),
        (None, ""),
        (42, "42"),
        ({"a": [1, 2]}, '{"a":[1,2]}'),
        (Point(1, 2), '{"x":1,"y":2}'),
        (Area("yard", 1.5), '{"name":"yard","size":1.5}'),
        (object.__new__(type("Opaque", (), {"__str__": lambda self: "opaque!"})), "opaque!"),
    ],
)
async def test_return_values_become_text(result: object, content: str) -> None:
    def give() -> object:
        return result

    assert await function_tool(give).call("{}") == ToolOutput(content)


async def test_a_returned_tool_output_is_passed_through() -> None:
    def refuse() -> ToolOutput:
        return ToolOutput("not allowed", is_error=True)

    assert await function_tool(refuse).call("{}") == ToolOutput("not allowed", is_error=True)


async def test_exceptions_become_error_outputs() -> None:
    def fails(x: int) -> int:
        raise ValueError(f"bad x: {x}")

    async def fails_async() -> None:
        raise RuntimeError

    assert await function_tool(fails).call('{"x": 3}') == ToolOutput(
        "Error: ValueError: bad x: 3", is_error=True
    )
    assert await function_tool(fails_async).call("{}") == ToolOutput(
        "Error: RuntimeError", is_error=True
    )


async def test_invalid_arguments_name_the_field() -> None:
    def move(point: Point, steps: int) -> None: ...

    tool = function_tool(move)
    out = await tool.call('{"point": {"x": 1, "y": 2}, "steps": "three"}')
    assert out == ToolOutput(
        "Error: invalid arguments for tool 'move': Expected `int`, got `str` - at `$.steps`",
        is_error=True,
    )
    out = await tool.call('{"point": {"x": 1}, "steps": 1}')
    assert out == ToolOutput(
        "Error: invalid arguments for tool 'move': Object missing required field `y` - at `$.point`",
        is_error=True,
    )
    out = await tool.call('{"point": {"x": 1, "y": 2}, "steps": 1, "speed": 9}')
    assert out.is_error
    assert "unknown field `speed`" in out.content


async def test_bad_json_is_an_error_output() -> None:
    out = await function_tool(lambda_free_add).call('{"a": 1')
    assert out == ToolOutput(
        "Error: arguments for tool 'lambda_free_add' are not valid JSON: Input data was truncated",
        is_error=True,
    )
    out = await function_tool(lambda_free_add).call("[1, 2]")
    assert out.is_error
    assert "Expected `object`, got `array`" in out.content


async def test_constraints_from_meta_are_enforced() -> None:
    def pick(n: Annotated[int, msgspec.Meta(ge=1)]) -> int:
        return n

    out = await function_tool(pick).call('{"n": 0}')
    assert out.is_error
    assert "Expected `int` >= 1 - at `$.n`" in out.content


async def test_cancellation_propagates_from_an_async_tool() -> None:
    started = anyio.Event()
    finished: list[ToolOutput] = []

    async def wait_forever() -> str:
        started.set()
        await anyio.sleep_forever()
        return "unreachable"

    tool = function_tool(wait_forever)

    async def run() -> None:
        finished.append(await tool.call("{}"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await started.wait()
        tg.cancel_scope.cancel()
    assert finished == []


async def test_cancellation_propagates_from_a_thread_tool() -> None:
    started = anyio.Event()
    release = threading.Event()
    finished: list[ToolOutput] = []

    def block() -> str:
        anyio.from_thread.run_sync(started.set)
        release.wait(timeout=30)
        return "done"

    tool = function_tool(block)

    async def run() -> None:
        finished.append(await tool.call("{}"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await started.wait()
        tg.cancel_scope.cancel()
        release.set()
    assert finished == []


async def test_callable_object_with_async_call() -> None:
    class Greeter:
        async def __call__(self, name: str) -> str:
            return f"hello {name}"

    tool = function_tool(Greeter(), name="greet")
    assert await tool.call('{"name": "ada"}') == ToolOutput("hello ada")
