"""The offline demo model: lets the bundled example teams run with no API key.

It is a ``FunctionModel`` with a few deterministic habits, enough to show a
team at work: it uses the calculator or clock tool when the question calls for
one, a reviewer (a system message that mentions reviewing) approves, and
anyone else writes a short answer about the user's last message.
"""

from __future__ import annotations

__all__ = ["DemoModel"]

import re

import msgspec

from troupe.messages import AssistantMessage, SystemMessage, ToolMessage, UserMessage, text_of
from troupe.models._base import ModelRequest
from troupe.models.testing import FunctionModel, Reply, tool_call

_MATH = re.compile(r"[-+*/()\d\s.%^]{3,}")
_REVIEW = re.compile(r"\byou are (a|an|the) (critic|reviewer)\b", re.IGNORECASE)


def _last_user_text(request: ModelRequest) -> str:
    for message in reversed(request.messages):
        if isinstance(message, UserMessage) and message.source == "user":
            return text_of(message).strip()
    return ""


def _expression(text: str) -> str | None:
    candidates = [m.group().strip() for m in _MATH.finditer(text)]
    candidates = [c for c in candidates if re.search(r"\d\s*[-+*/%^]\s*[\d(]", c)]
    return max(candidates, key=len).replace("^", "**") if candidates else None


def _reply(request: ModelRequest) -> Reply:
    tools = {tool.name for tool in request.tools} if request.tool_choice != "none" else set()
    last = request.messages[-1] if request.messages else None
    if isinstance(last, ToolMessage):
        results = [m for m in request.messages if isinstance(m, ToolMessage)]
        return " ".join(f"The {m.name} tool says: {m.content}." for m in results[-3:])
    system = next((m.content for m in request.messages if isinstance(m, SystemMessage)), "")
    question = _last_user_text(request)
    if _REVIEW.search(system):
        drafts = [m for m in request.messages if isinstance(m, UserMessage) and m.source != "user"]
        return "Clear and to the point. APPROVE" if drafts else "Nothing to review yet."
    expression = _expression(question)
    if expression and "calculator" in tools:
        return tool_call("calculator", msgspec.json.encode({"expression": expression}).decode())
    if "current_time" in tools and re.search(r"\b(time|date|today|now)\b", question, re.IGNORECASE):
        return tool_call("current_time", "{}")
    if any(isinstance(m, AssistantMessage) for m in request.messages):
        return (
            f"Here is another thought on “{question[:80]}”: keep it simple, and check the result."
        )
    topic = question[:80] or "your question"
    return (
        f"This is the offline demo model answering “{topic}”. "
        "Set OPENAI_API_KEY to let a real model answer. Meanwhile the team still works: "
        "agents take turns, call tools and stream their words, just like with a real model."
    )


class DemoModel(FunctionModel):
    """A deterministic, offline ``ChatModel`` for demos (streams word by word)."""

    provider = "demo"

    def __init__(self, *, name: str = "demo", delay: float = 0.02) -> None:
        super().__init__(_reply, name=name, delay=delay)
