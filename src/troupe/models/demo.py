"""The offline demo model: lets the bundled example teams run with no API key.

It is a ``FunctionModel`` with a few deterministic habits, enough to show a
team at work: it uses the calculator or clock tool when the question calls for
one, a reviewer (a system message that mentions reviewing) approves, and
anyone else writes a short answer about the user's last message.
"""

from __future__ import annotations

__all__ = ["DemoModel"]

import os
import re

import msgspec

from troupe.messages import AssistantMessage, SystemMessage, ToolMessage, UserMessage, text_of
from troupe.models._base import ModelCapabilities, ModelRequest
from troupe.models.testing import FunctionModel, Reply, tool_call

_MATH = re.compile(r"[-+*/()\d\s.%^]{3,}")
_CANDIDATES = re.compile(r"select the next role from (\[[^\]]*\])")
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
    choice = _select_speaker(system)
    if choice is not None:
        return choice
    handoff = _handoff(request, tools, question)
    if handoff is not None:
        return tool_call(handoff)
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


def _select_speaker(system: str) -> str | None:
    """As a selector team's model: the first candidate who has not spoken yet."""
    match = _CANDIDATES.search(system)
    if match is None:
        return None
    candidates = re.findall(r"'([^']+)'", match.group(1))
    history = system.split("Read the following conversation.", 1)[-1]
    spoken = set(re.findall(r"^(\w+): ", history, re.MULTILINE))
    return next((c for c in candidates if c not in spoken), candidates[0] if candidates else "")


def _handoff(request: ModelRequest, tools: set[str], question: str) -> str | None:
    """In a swarm: hand off to the agent the question is about, once."""
    if any(isinstance(m, AssistantMessage) for m in request.messages):
        return None
    for tool in sorted(tools):
        target = tool.removeprefix("transfer_to_")
        if target == tool or target == "user":
            continue
        stem = target.rstrip("s")[:5].lower()
        if stem and stem in question.lower():
            return tool
    return None


class DemoModel(FunctionModel):
    """A deterministic, offline ``ChatModel`` for demos (streams word by word)."""

    provider = "demo"

    def __init__(
        self,
        *,
        name: str = "demo",
        delay: float | None = None,
        capabilities: ModelCapabilities | None = None,
    ) -> None:
        if delay is None:
            # A pause between words, so the demo streams like a model; tests set it to 0.
            delay = float(os.environ.get("TROUPE_DEMO_DELAY", "0.02"))
        super().__init__(_reply, name=name, delay=delay, capabilities=capabilities)
