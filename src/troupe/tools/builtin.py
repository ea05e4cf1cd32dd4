"""Built-in tools that work offline, for the bundled example teams.

Use them in a team config as ``troupe.tools.builtin:calculator`` and
``troupe.tools.builtin:current_time``.
"""

from __future__ import annotations

__all__ = ["MAX_EXPRESSION_LENGTH", "MAX_INTEGER_BITS", "calculator", "current_time", "evaluate"]

import ast
import math
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from troupe.tools._function import function_tool

MAX_EXPRESSION_LENGTH = 1000
# About 3,000 decimal digits: more than any useful answer, and each step stays
# cheap. Without a bound, "9**9**9" would occupy a worker thread for minutes.
MAX_INTEGER_BITS = 10_000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_UNSUPPORTED_OPERATORS = {
    ast.BitXor: "'^' is not supported (use ** for powers)",
    ast.BitAnd: "'&' is not supported",
    ast.BitOr: "'|' is not supported",
    ast.LShift: "'<<' is not supported",
    ast.RShift: "'>>' is not supported",
    ast.MatMult: "'@' is not supported",
    ast.Invert: "'~' is not supported",
    ast.Not: "'not' is not supported",
}


def evaluate(expression: str) -> int | float:
    """Evaluate an arithmetic expression without ``eval``; ``ValueError`` says what is wrong."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"expression is too long (at most {MAX_EXPRESSION_LENGTH} characters)")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        result = _evaluate(tree.body)
    except SyntaxError as exc:
        raise ValueError(f"invalid expression: {exc.msg}") from None
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    except OverflowError:
        raise ValueError("result is too large") from None
    except (RecursionError, MemoryError):
        raise ValueError("expression is nested too deeply") from None
    if isinstance(result, float) and not math.isfinite(result):
        raise ValueError("result is too large")
    return result


def _evaluate(node: ast.expr) -> int | float:
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))  # type: ignore[no-any-return]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        _check_size(node.op, left, right)
        return _BINARY[type(node.op)](left, right)  # type: ignore[no-any-return]
    raise ValueError(_unsupported(node))


def _check_size(op: ast.operator, left: int | float, right: int | float) -> None:
    if not (isinstance(left, int) and isinstance(right, int)):
        return  # float arithmetic overflows to OverflowError or inf, both caught
    if isinstance(op, ast.Pow) and right > 0 and abs(left) > 1:
        bits = left.bit_length() * right
    elif isinstance(op, ast.Mult):
        bits = left.bit_length() + right.bit_length()
    else:
        return
    if bits > MAX_INTEGER_BITS:
        raise ValueError("result is too large")


def _unsupported(node: ast.expr) -> str:
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        reason = _UNSUPPORTED_OPERATORS.get(type(node.op), "is not supported")
        return f"operator {reason}"
    if isinstance(node, ast.Name):
        return f"unknown name {node.id!r}: only numbers and operators are allowed"
    if isinstance(node, ast.Call):
        return "function calls are not supported"
    if isinstance(node, ast.Constant):
        return f"{node.value!r} is not a number"
    return f"{ast.unparse(node)!r} is not supported: only numbers and + - * / // % ** ( )"


@function_tool
def calculator(expression: str) -> int | float:
    """Evaluate an arithmetic expression and return the number.

    Supports integers and decimals with + - * / // % ** and parentheses,
    e.g. "(2 + 3) * 4 ** 2 / 7". Variables and functions are not supported.

    Args:
        expression: The arithmetic expression to evaluate.
    """
    return evaluate(expression)


@function_tool
def current_time(timezone: str | None = None) -> str:
    """Get the current date and time as an ISO 8601 string.

    Args:
        timezone: An IANA time zone name such as "Europe/Paris"; UTC when omitted.
    """
    if not timezone:
        return datetime.now(UTC).isoformat(timespec="seconds")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {timezone!r}: use an IANA name such as 'Europe/Paris'"
        ) from None
    return datetime.now(zone).isoformat(timespec="seconds")
