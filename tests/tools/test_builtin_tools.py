"""The offline built-in tools: calculator and current_time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from troupe.tools import ToolOutput
from troupe.tools.builtin import MAX_EXPRESSION_LENGTH, calculator, current_time, evaluate

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("-3 + +2", -1),
        ("- (1 - 4)", 3),
        ("1.5e3 / 3", 500.0),
        ("  10  ", 10),
        ("2 ** 3 ** 2", 512),
    ],
)
def test_evaluate(expression: str, value: float) -> None:
    result = evaluate(expression)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("9 ** 9 ** 9", "result is too large"),
        ("(10 ** 2000) * (10 ** 2000)", "result is too large"),
        ("1e308 * 10", "result is too large"),
        ("2.0 ** 5000", "result is too large"),
        ("2 ^ 3", "operator '^' is not supported (use ** for powers)"),
        ("x + 1", "unknown name 'x'"),
        ("__import__('os').system('true')", "function calls are not supported"),
        ("'a' * 3", "'a' is not a number"),
        ("True + 1", "True is not a number"),
        ("1j * 2", "1j is not a number"),
        ("[1, 2]", "'[1, 2]' is not supported"),
        ("1 < 2", "'1 < 2' is not supported"),
        ("2 +", "invalid expression"),
        ("import os", "invalid expression"),
        ("(" * 300 + "1" + ")" * 300, "invalid expression"),
        ("1" + " + 1" * MAX_EXPRESSION_LENGTH, "expression is too long"),
    ],
)
def test_evaluate_rejects(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate(expression)


async def test_calculator_tool() -> None:
    assert calculator.spec.strict is True
    assert calculator.spec.parameters == {
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "description": "The arithmetic expression to evaluate.",
            }
        },
        "required": ["expression"],
        "additionalProperties": False,
    }
    assert await calculator.call('{"expression": "(1 + 2) * 3"}') == ToolOutput("9")
    assert await calculator.call('{"expression": "1 / 0"}') == ToolOutput(
        "Error: ValueError: division by zero", is_error=True
    )


def _parse(output: ToolOutput) -> datetime:
    assert not output.is_error, output.content
    return datetime.fromisoformat(output.content)


async def test_current_time_defaults_to_utc() -> None:
    for arguments in ("{}", '{"timezone": null}', '{"timezone": ""}'):
        now = _parse(await current_time.call(arguments))
        assert now.utcoffset() == timedelta(0)
        assert abs(now - datetime.now(UTC)) < timedelta(minutes=5)


async def test_current_time_in_a_time_zone() -> None:
    now = _parse(await current_time.call('{"timezone": "Asia/Tokyo"}'))
    assert now.utcoffset() == timedelta(hours=9)  # Japan has no daylight saving time
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe", "../../etc/passwd", "/etc/passwd"])
async def test_current_time_unknown_zone(zone: str) -> None:
    output = await current_time.call(f'{{"timezone": "{zone}"}}')
    assert output.is_error
    assert output.content.startswith(f"Error: ValueError: unknown time zone '{zone}'")
