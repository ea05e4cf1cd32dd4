"""AutoGen agents as entries of a team's ``agents:`` list."""

from __future__ import annotations

__all__ = ["import_agent", "import_executor"]

from typing import Any

from troupe.agents._code_executor import DEFAULT_CODER_MESSAGE
from troupe.config.agents import AgentSpec
from troupe.interop._autogen_base import Component, Importer, identifier, spec_fields
from troupe.interop._autogen_models import import_model
from troupe.interop._autogen_tools import import_tools

_AUTOGEN_HANDOFF = "Transferred to {0}, adopting the role of {0} immediately."


def _name(c: Component, imp: Importer) -> str:
    name = str(c.get("name") or "agent")
    fixed = identifier(name)
    if fixed != name:
        imp.notes.append(f"{c.at('name')}: agent {name!r} is called {fixed!r} in troupe")
    return fixed


def _model_context(raw: Any, path: str, imp: Importer) -> dict[str, Any]:
    """``context:`` for an AgentChat model context (empty: the whole conversation)."""
    c = Component.of(raw, path)
    if c is None or c.kind == "UnboundedChatCompletionContext":
        return {}
    if c.get("initial_messages"):
        imp.drop(c.at("initial_messages"), "initial messages of the model context", "not in troupe")
    if c.kind == "BufferedChatCompletionContext":
        return {"last_messages": c.get("buffer_size")}
    if c.kind == "TokenLimitedChatCompletionContext" and c.get("token_limit"):
        return {"token_budget": c.get("token_limit")}
    if c.kind == "HeadAndTailChatCompletionContext":
        imp.drop(
            c.at("head_size"),
            f"the first {c.get('head_size')} messages kept (head-and-tail context)",
            "troupe's context policy keeps the newest messages only; imported as the tail",
        )
        return {"last_messages": c.get("tail_size")}
    imp.unknown(c, "model context")
    return {}


def _handoffs(c: Component, imp: Importer) -> list[Any]:
    found: list[Any] = []
    fields = spec_fields(AgentSpec, "assistant") or frozenset()
    for i, handoff in enumerate(c.items("handoffs")):
        if isinstance(handoff, str):
            handoff = {"target": handoff}
        if not isinstance(handoff, dict) or not handoff.get("target"):
            imp.drop(c.at(f"handoffs[{i}]"), "handoff", "neither a name nor a handoff object")
            continue
        target = str(handoff.get("target"))
        entry = {"target": target}
        # AgentChat's texts, carried so that the model and the transcript see the same.
        entry["description"] = handoff.get("description") or f"Handoff to {target}."
        entry["message"] = handoff.get("message") or _AUTOGEN_HANDOFF.format(target)
        name = handoff.get("name")
        if name and name != f"transfer_to_{target}":
            if "handoff_names" in fields:  # pragma: no cover - a later troupe
                entry["name"] = name
            else:
                imp.drop(
                    c.at(f"handoffs[{i}].name"),
                    f"handoff tool name {name!r}",
                    f"troupe names it transfer_to_{target}",
                )
        found.append(entry)
    return found


def _output_schema(c: Component) -> dict[str, Any] | None:
    factory = Component.of(c.get("structured_message_factory"), c.at("structured_message_factory"))
    if factory is None:
        return None
    schema = factory.get("json_schema")
    return schema if isinstance(schema, dict) else None


def _assistant(c: Component, imp: Importer) -> dict[str, Any]:
    agent: dict[str, Any] = {"name": _name(c, imp)}
    if c.get("description"):
        agent["description"] = c.get("description")
    model = import_model(c.get("model_client"), c.at("model_client"), imp)
    agent["model"] = model or "missing"
    # AgentChat's default system message is in the JSON; ``None`` means none.
    agent["system_message"] = c.get("system_message")
    import_tools(c, imp, agent)
    handoffs = _handoffs(c, imp)
    if handoffs:
        agent["handoffs"] = handoffs
    schema = _output_schema(c)
    if schema is not None:
        agent["output_schema"] = schema
    # AgentChat reflects by default only with structured output; troupe always does.
    agent["reflect_on_tool_use"] = bool(c.get("reflect_on_tool_use", schema is not None))
    if (c.get("max_tool_iterations") or 1) != 1:
        agent["max_tool_iterations"] = c.get("max_tool_iterations")
    if c.get("tool_call_summary_format") not in (None, "{result}"):
        agent["tool_call_summary_format"] = c.get("tool_call_summary_format")
    context = _model_context(c.get("model_context"), c.at("model_context"), imp)
    if context:
        agent["context"] = context
    for i, memory in enumerate(c.items("memory")):
        kind = (Component.of(memory, "") or Component("memory", {}, "")).kind
        imp.drop(c.at(f"memory[{i}]"), f"memory {kind}", "troupe config has no agent memory yet")
    if c.get("metadata"):
        imp.drop(c.at("metadata"), "agent metadata", "troupe agents have none")
    return agent


def import_executor(raw: Any, path: str, imp: Importer) -> str:
    """The name of the ``executors:`` entry for a code executor component."""
    c = Component.of(raw, path)
    spec: dict[str, Any]
    if c is not None and c.kind == "LocalCommandLineCodeExecutor":
        spec = {"kind": "local", "enabled": True}
        imp.notes.append(
            f"{c.path}: code runs as a subprocess of the server, as AutoGen's local executor "
            "did; kind: docker contains it"
        )
    elif c is not None and c.kind == "DockerCommandLineCodeExecutor":
        spec = {"kind": "docker", "image": c.get("image") or "python:3-slim"}
        imp.notes.append(f"{c.path}: troupe's container has no network unless you set network:")
        for key in ("extra_volumes", "extra_hosts", "init_command", "bind_dir", "device_requests"):
            if c.get(key):
                imp.drop(c.at(key), f"docker {key}", "troupe's executor has no such setting")
    else:
        spec = {"kind": "docker"}
        if c is not None:
            imp.drop(c.path, f"code executor {c.kind}", "imported as troupe's docker executor")
        else:
            imp.drop(path, "code executor", "missing; imported as troupe's docker executor")
    if c is not None and isinstance(c.get("timeout"), int | float):
        spec["timeout"] = c.get("timeout")
    if c is not None and c.get("work_dir"):
        imp.drop(c.at("work_dir"), "work_dir", "troupe gives each conversation its own directory")
    return imp.add_executor(spec, "code")


def _code_executor(c: Component, imp: Importer) -> dict[str, Any]:
    agent: dict[str, Any] = {"kind": "code_executor", "name": _name(c, imp)}
    if c.get("description"):
        agent["description"] = c.get("description")
    agent["executor"] = import_executor(c.get("code_executor"), c.at("code_executor"), imp)
    if c.get("model_client"):
        agent["model"] = import_model(c.get("model_client"), c.at("model_client"), imp)
        agent["system_message"] = c.get("system_message") or DEFAULT_CODER_MESSAGE
        agent["max_retries"] = c.get("max_retries_on_error") or 0
    languages = c.get("supported_languages")
    if languages and sorted(languages) != ["python", "sh"]:
        imp.drop(c.at("supported_languages"), "supported_languages", "troupe runs python and sh")
    if c.get("sources"):
        imp.drop(
            c.at("sources"), "sources (whose code blocks run)", "troupe runs the last message's"
        )
    return agent


def _user_proxy(c: Component, imp: Importer) -> dict[str, Any]:
    agent: dict[str, Any] = {"kind": "user_proxy", "name": _name(c, imp)}
    if c.get("description"):
        agent["description"] = c.get("description")
    if c.get("input_func"):
        imp.drop(c.at("input_func"), "input_func", "the run pauses and asks the API's client")
    return agent


def _society_of_mind(c: Component, imp: Importer) -> dict[str, Any] | None:
    name = _name(c, imp)
    inner = imp.import_team(c.get("team"), c.at("team"), name) if imp.import_team else None
    if inner is None:
        return None
    fields = spec_fields(AgentSpec, "society_of_mind")
    model = import_model(c.get("model_client"), c.at("model_client"), imp)
    if fields is not None and {"team", "model"} <= fields:
        agent = {"kind": "society_of_mind", "name": name, "team": inner, "model": model}
        for key in ("instruction", "response_prompt"):
            if key in fields and c.get(key):
                agent[key] = c.get(key)
        return agent
    imp.drop(
        c.at("model_client"),
        "the society-of-mind summary (instruction, response_prompt, its model)",
        f"troupe config has no society-of-mind agent yet; the inner team {inner!r} takes "
        "part as one agent and its messages are the answer",
    )
    return {"kind": "team", "name": name, "team": inner, "description": c.get("description") or ""}


def _message_filter(c: Component, imp: Importer) -> dict[str, Any] | None:
    agent = import_agent(c.get("wrapped_agent"), c.at("wrapped_agent"), imp)
    if agent is None:
        return None
    agent["name"] = _name(c, imp)
    fields = spec_fields(AgentSpec, str(agent.get("kind", "assistant"))) or frozenset()
    if "message_filter" in fields:  # pragma: no cover - a later troupe
        agent["message_filter"] = c.get("filter")
    else:
        imp.drop(
            c.at("filter"),
            "message filter (messages per source the agent sees)",
            "troupe config has no message filter yet; the agent sees the whole conversation",
        )
    return agent


_AGENTS = {
    "AssistantAgent": _assistant,
    "UserProxyAgent": _user_proxy,
    "CodeExecutorAgent": _code_executor,
    "SocietyOfMindAgent": _society_of_mind,
    "MessageFilterAgent": _message_filter,
}


def import_agent(raw: Any, path: str, imp: Importer) -> dict[str, Any] | None:
    """The ``agents:`` entry for the agent component at ``path``; None when it has none."""
    found = imp.lookup(raw, path, _AGENTS, "agent")
    if found is None:
        return None
    c, build = found
    return build(c, imp)
