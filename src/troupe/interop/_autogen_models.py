"""AutoGen model clients as ``models:`` entries. API keys become ``${ENV}`` references."""

from __future__ import annotations

__all__ = ["import_model"]

from typing import Any

from troupe.interop._autogen_base import Component, Importer

_KEY_ENV = {
    "OpenAIChatCompletionClient": "OPENAI_API_KEY",
    "AzureOpenAIChatCompletionClient": "AZURE_OPENAI_API_KEY",
    "AnthropicChatCompletionClient": "ANTHROPIC_API_KEY",
}
# Settings with the same meaning (and name) in AutoGen and troupe.
_SAME = ("temperature", "max_tokens", "top_p", "seed", "stop", "timeout")
# OpenAI request fields troupe passes as they are (``extra_body``).
_PASSED = (
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "user",
    "parallel_tool_calls",
    "n",
    "service_tier",
)
# Client fields that change nothing a troupe model does.
_IGNORED = {
    "model",
    "api_key",
    "base_url",
    "model_info",
    "model_capabilities",
    "include_name_in_message",
    "add_name_prefixes",
    "follow_redirects",
    "max_retries",
    "default_headers",
    "headers",
    "azure_endpoint",
    "azure_deployment",
    "api_version",
    "host",
    "options",
    "stop_sequences",
    "thinking",
    "reasoning_effort",
    "keep_alive",
    "stream_options",
}


def _capabilities(info: Any) -> dict[str, Any] | None:
    if not isinstance(info, dict):
        return None
    caps = {
        ours: info[theirs]
        for theirs, ours in (
            ("function_calling", "tools"),
            ("vision", "vision"),
            ("structured_output", "structured_output"),
        )
        if isinstance(info.get(theirs), bool)
    }
    return caps or None


def _common(c: Component, spec: dict[str, Any], imp: Importer) -> None:
    for key in _SAME:
        if c.get(key) is not None:
            spec[key] = c.get(key)
    if isinstance(c.get("stop_sequences"), list):
        spec["stop"] = c.get("stop_sequences")
    retries = c.get("max_retries")
    if isinstance(retries, int) and not isinstance(retries, bool):
        spec["max_retries"] = min(max(retries, 0), 10)
        if retries > 10:
            imp.drop(c.at("max_retries"), f"max_retries {retries}", "troupe allows at most 10")
    headers = c.get("default_headers") or c.get("headers")
    if isinstance(headers, dict) and headers:
        spec["headers"] = {str(k): str(v) for k, v in headers.items()}
    caps = _capabilities(c.get("model_info") or c.get("model_capabilities"))
    if caps:
        spec["capabilities"] = caps


def _key(c: Component, imp: Importer, spec: dict[str, Any]) -> None:
    env = _KEY_ENV.get(c.kind)
    if env is None:
        return
    spec["api_key"] = f"${{{env}}}"
    if c.get("api_key"):
        imp.notes.append(f"{c.at('api_key')}: not copied; set {env} (the config reads ${{{env}}})")


def _openai(c: Component, imp: Importer, spec: dict[str, Any]) -> None:
    spec["provider"] = "openai"
    if c.kind == "AzureOpenAIChatCompletionClient":
        spec["base_url"] = c.get("azure_endpoint") or c.get("base_url")
        spec["api_version"] = c.get("api_version")
        if c.get("azure_deployment"):
            spec["azure_deployment"] = c.get("azure_deployment")
        for key in ("azure_ad_token", "azure_ad_token_provider"):
            if c.get(key):
                imp.drop(c.at(key), "Azure AD authentication", "troupe uses an API key for Azure")
    elif c.get("base_url"):
        spec["base_url"] = c.get("base_url")
    if c.get("reasoning_effort"):
        spec["thinking"] = c.get("reasoning_effort")
    passed = {key: c.get(key) for key in _PASSED if c.get(key) is not None}
    if c.get("response_format") is not None:
        imp.drop(c.at("response_format"), "response_format", "use the agent's output_schema")
    if passed:
        spec["extra_body"] = passed
    if c.get("organization"):
        spec.setdefault("headers", {})["OpenAI-Organization"] = c.get("organization")


def _anthropic(c: Component, imp: Importer, spec: dict[str, Any]) -> None:
    spec["provider"] = "anthropic"
    if c.get("base_url"):
        spec["base_url"] = c.get("base_url")
    thinking = c.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        spec["thinking"] = thinking.get("budget_tokens") or thinking
    if c.get("top_k") is not None:
        spec["extra_body"] = {"top_k": c.get("top_k")}


def _ollama(c: Component, imp: Importer, spec: dict[str, Any]) -> None:
    spec["provider"] = "ollama"
    if c.get("host"):
        spec["base_url"] = c.get("host")
    if isinstance(c.get("options"), dict) and c.get("options"):
        spec["options"] = c.get("options")
    if c.get("keep_alive") is not None:
        spec["keep_alive"] = c.get("keep_alive")
    if c.get("response_format") is not None:
        imp.drop(c.at("response_format"), "response_format", "use the agent's output_schema")


_PROVIDERS = {
    "OpenAIChatCompletionClient": _openai,
    "AzureOpenAIChatCompletionClient": _openai,
    "AnthropicChatCompletionClient": _anthropic,
    "OllamaChatCompletionClient": _ollama,
}


def import_model(raw: Any, path: str, imp: Importer) -> str | None:
    """The name of the ``models:`` entry for the client at ``path``; None if there is none."""
    c = Component.of(raw, path)
    if c is None:
        imp.drop(path, "model client", "not a component")
        return None
    if c.kind == "ReplayChatCompletionClient":
        imp.notes.append(f"{c.path}: a replayed (scripted) client; imported as the demo model")
        return imp.add_model({"provider": "demo", "model": "replay"}, "replay")
    provider = _PROVIDERS.get(c.kind)
    if provider is None:
        imp.drop(c.path, f"model client {c.kind}", "troupe has no such provider")
        return None
    spec: dict[str, Any] = {"provider": "", "model": str(c.get("model") or "")}
    provider(c, imp, spec)
    _common(c, spec, imp)
    _key(c, imp, spec)
    handled = _IGNORED | set(_SAME) | set(_PASSED) | {"organization", "response_format", "top_k"}
    for key in sorted(set(c.config) - handled):
        if c.get(key) not in (None, {}, [], False):
            imp.drop(c.at(key), f"client setting {key}", "no troupe model setting")
    return imp.add_model(spec, spec["model"] or c.kind)
