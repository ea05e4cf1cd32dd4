"""The offline demo model: lets example teams run, and end, with no API key.

It is a ``FunctionModel`` that plays along with the usual instructions of a
team's agents, deterministically, so a team shows its work (turns, tools,
handoffs, a selector's choices) and ends by its own termination condition.
In order, it

1. picks the next speaker, when it is a selector team's model: the first
   candidate who has not spoken since the user's last message;
2. sums up its tool results, once the tools it called have answered;
3. answers a structured-output request with JSON made from the schema;
4. hands off (in a swarm) to the agent the question is about: the target's
   name, or a word in parentheses after it in the system message, appears in
   the question;
5. calls the tools that fit the question: the calculator for arithmetic,
   ``current_time`` for the time or date, ``run_code`` for a fenced code
   block, any other tool when a word of its name is in the question or when
   it is the agent's only tool; with arguments made from the tool's JSON
   schema (see ``_demo_values``);
6. asks the user, handing the conversation to them, when it can hand off to
   the user and nobody else fits;
7. reviews and says the stop word: a system message that tells it to say a
   word in capitals (``Say APPROVE when done``, ``end your review with the
   word APPROVE``) makes it say that word once another agent's work is there
   to review, and a critic or reviewer with no word of its own says APPROVE;
   an unconditional ``End with DONE`` ends every answer with DONE;
8. otherwise writes a short answer about the user's last message.

docs/demo-model.md says the same for users.
"""

from __future__ import annotations

__all__ = ["DemoModel"]

import os
import re

import msgspec

from troupe.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
    text_of,
)
from troupe.models._base import ModelCapabilities, ModelRequest, ModelResponse, ToolSpec
from troupe.models._demo_values import arithmetic, value_for
from troupe.models.testing import FunctionModel, Reply, tool_call

_CANDIDATES = re.compile(r"select the next role from (\[[^\]]*\])")
_REVIEWER = re.compile(r"\byou are (a|an|the) (critic|reviewer)\b", re.IGNORECASE)
_WORD = r"[\"'“‘]?([A-Z][A-Z_]{2,})\b"  # APPROVE, DONE, TERMINATE: in capitals
_STOP_WORDS = (
    # Say APPROVE when done / reply with TERMINATE when the task is complete
    re.compile(
        rf"\b(?i:say|reply|respond|answer|write)\s+(?i:with\s+)?(?i:the\s+word\s+)?{_WORD}"
        r"[\"'”’]?\s+(?i:when|if|once|after|to\s+(?:finish|end|stop))\b"
    ),
    # End with DONE / end your review with the word APPROVE
    re.compile(
        rf"\b(?i:end|finish|conclude|close)\b(?:\s+\w+){{0,3}}?\s+(?i:with)\s+"
        rf"(?i:the\s+word\s+)?{_WORD}"
    ),
    # Say APPROVE.
    re.compile(rf"\b(?i:say)\s+{_WORD}[\"'”’]?\s*(?:[.!;]|$)", re.MULTILINE),
)
_CONDITION = re.compile(r"\b(when|if|once|after|until)\b", re.IGNORECASE)
_ASK = re.compile(
    r"\bask (?:the )?(?:user|customer|human)s? for (.+?)(?: if (?:needed|necessary))?(?:[.;\n]|$)",
    re.IGNORECASE,
)
_TIME = re.compile(r"\b(time|date|day|today|now|clock)\b", re.IGNORECASE)
_CODE = re.compile(r"```\w*\n.*?```", re.DOTALL)
_CONTROL = ("transfer_to_", "stop_run")


class _View:
    """What the demo model reads in a request."""

    def __init__(self, request: ModelRequest) -> None:
        self.messages = request.messages
        self.system = next(
            (m.content for m in request.messages if isinstance(m, SystemMessage)), ""
        )
        offered = request.tools if request.tool_choice != "none" else ()
        self.tools: dict[str, ToolSpec] = {tool.name: tool for tool in offered}
        users = [i for i, m in enumerate(request.messages) if _from_user(m)]
        self.since_user = request.messages[users[-1] + 1 :] if users else request.messages
        # The question: the user's own last words (a user proxy's answer has its name).
        self.question = text_of(request.messages[users[-1]]).strip() if users else ""
        self.others = [
            m.source
            for m in self.since_user
            if isinstance(m, UserMessage) and m.source not in ("user", "")
        ]
        self.spoke_before = any(isinstance(m, AssistantMessage) for m in request.messages)


def _from_user(message: Message) -> bool:
    return isinstance(message, UserMessage) and message.source == "user"


def _reply(request: ModelRequest) -> Reply:
    view = _View(request)
    last = request.messages[-1] if request.messages else None
    choice = _select_speaker(view.system)
    if choice is not None:
        return choice
    if isinstance(last, ToolMessage):
        results = [m for m in request.messages if isinstance(m, ToolMessage)]
        return _finish(
            view, " ".join(f"The {m.name} tool says: {m.content}." for m in results[-3:])
        )
    if request.output_schema is not None:
        answer = value_for(request.output_schema.schema, view.question)
        return msgspec.json.encode(answer).decode()
    handoff = _handoff(view)
    if handoff is not None:
        return tool_call(handoff)
    calls = _tool_calls(view)
    if calls:
        return calls
    if "transfer_to_user" in view.tools:
        return ModelResponse(
            content=_ask(view),
            tool_calls=(tool_call("transfer_to_user"),),
            finish_reason="tool_calls",
        )
    return _finish(view, _answer(view))


def _select_speaker(system: str) -> str | None:
    """As a selector team's model: the first candidate not heard since the user spoke."""
    match = _CANDIDATES.search(system)
    if match is None:
        return None
    candidates: list[str] = re.findall(r"'([^']+)'", match.group(1))
    history = system.split("Read the following conversation.", 1)[-1]
    turns = re.findall(r"^(\w+): ", history, re.MULTILINE)
    since = turns[len(turns) - turns[::-1].index("user") :] if "user" in turns else turns
    fresh = [c for c in candidates if c not in since]
    if fresh:
        return fresh[0]
    # Everyone spoke: the one after the last speaker, in the team's order.
    last = since[-1] if since else ""
    at = candidates.index(last) + 1 if last in candidates else 0
    return candidates[at % len(candidates)] if candidates else ""


def _stems(text: str) -> set[str]:
    return {w[:5] for w in re.findall(r"[a-z]{4,}", text.lower())}


def _handoff(view: _View) -> str | None:
    """The transfer tool of the agent the question is about (once since the user spoke)."""
    asked = _stems(view.question)
    for name in sorted(view.tools):
        target = name.removeprefix("transfer_to_")
        if target == name or target == "user" or target in view.others:
            continue
        listed = re.search(rf"\b{re.escape(target)}\b\s*\(([^)]*)\)", view.system)
        words = _stems(target.replace("_", " ") + " " + (listed.group(1) if listed else ""))
        if words & asked or any(a.startswith(w) or w.startswith(a) for w in words for a in asked):
            return name
    return None


def _fits(tool: ToolSpec, view: _View, only: bool) -> bool:
    if tool.name == "calculator":
        return arithmetic(view.question) is not None
    if tool.name == "current_time":
        return _TIME.search(view.question) is not None
    if tool.name == "run_code":
        return _CODE.search(view.question) is not None
    named = set(re.findall(r"[a-z]{3,}", tool.name.lower())) & set(
        re.findall(r"[a-z]{3,}", view.question.lower())
    )
    return bool(named) or only


def _tool_calls(view: _View) -> list[ToolCall]:
    """A call of every tool that fits the question, with arguments from its schema."""
    tools = [t for t in view.tools.values() if not t.name.startswith(_CONTROL)]
    calls = []
    for tool in tools:
        if not _fits(tool, view, only=len(tools) == 1):
            continue
        arguments = value_for(tool.parameters, view.question)
        if arguments is not None:
            calls.append(tool_call(tool.name, msgspec.json.encode(arguments).decode()))
    return calls


def _ask(view: _View) -> str:
    """A question for the user, as an agent about to hand the conversation to them."""
    wanted = _ASK.search(view.system)
    if wanted is not None:
        if view.spoke_before:
            return f"Thank you. With “{view.question[:80]}” I have what I need: it is on its way."
        thing = wanted.group(1).strip()
        if thing.lower().startswith(("what", "any", "every", "all ")):
            return "Could you tell me a little more, so I can help?"
        return f"Could you give me {thing}?"
    others = [n.removeprefix("transfer_to_") for n in view.tools if n.startswith("transfer_to_")]
    others = [o for o in others if o != "user"]
    if others:
        return f"How can I help? Is it about {' or '.join(others)}?"
    return "Could you tell me a little more, so I can help?"


def _stop_word(system: str) -> tuple[str, bool] | None:
    """The word the system message says to say, and whether only on a condition."""
    for pattern in _STOP_WORDS:
        found = pattern.search(system)
        if found is not None:
            start = system.rfind(".", 0, found.start()) + 1
            end = system.find(".", found.end())
            sentence = system[start : end if end >= 0 else len(system)]
            return found.group(1), bool(_CONDITION.search(sentence))
    return None


def _answer(view: _View) -> str:
    word = _stop_word(view.system)
    reviewer = _REVIEWER.search(view.system) is not None or (word is not None and word[1])
    if reviewer:
        if not view.others:
            return "Nothing to review yet."
        return f"Clear and to the point. {word[0] if word else 'APPROVE'}"
    if view.spoke_before:
        return f"Here is another thought on “{view.question[:80]}”: keep it simple, and check the result."
    topic = view.question[:80] or "your question"
    return (
        f"This is the offline demo model answering “{topic}”. "
        "Set OPENAI_API_KEY to let a real model answer. Meanwhile the team still works: "
        "agents take turns, call tools and stream their words, just like with a real model."
    )


def _finish(view: _View, text: str) -> str:
    """``text``, ending with the stop word an unconditional instruction asks for."""
    word = _stop_word(view.system)
    if word is None or word[1] or text.rstrip().endswith(word[0]):
        return text
    return f"{text} {word[0]}"


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
