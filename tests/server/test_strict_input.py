"""Strict input: every malformed or mistyped request is an OpenAI-shaped 400, never a 500.

Each case is what a client can send (through the openai SDK where it can send
it, raw HTTP where it cannot); after each, the server keeps serving, and a
conversation that a bad request named is not left busy.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.server.conftest import app_for
from tests.server.test_errors import assert_error, echo_team
from troupe.server._schemas import MAX_DEPTH

pytestmark = pytest.mark.anyio

USER = [{"role": "user", "content": "hi"}]


def deep_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "echo", "messages": USER, **fields}


async def post_raw(client: Any, raw: bytes) -> Any:
    return await client.post(
        "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )


# --- a conversation id with a trailing newline -----------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_conversation_id_with_newline_in_metadata_is_400(
    make_client: Any, stream: bool
) -> None:
    client = await make_client(app_for(echo_team()))
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="echo", messages=USER, metadata={"conversation_id": "nl1\n"}, stream=stream
        )
    assert caught.value.status_code == 400
    assert caught.value.param == "conversation_id"  # type: ignore[attr-defined]
    assert "'nl1\\n'" in caught.value.message
    # Nothing was leased: the same id, asked again, is still a clear 400 (not a 409) ...
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(
            model="echo", messages=USER, metadata={"conversation_id": "nl1\n"}
        )
    # ... and the well-formed id works, twice in a row.
    for _ in range(2):
        answer = await client.chat.completions.create(
            model="echo", messages=USER, metadata={"conversation_id": "nl1"}
        )
        assert answer.choices[0].message.content == "hi there"


@pytest.mark.parametrize("stream", [False, True])
async def test_conversation_id_with_newline_in_header_is_400(raw_client: Any, stream: bool) -> None:
    client = await raw_client(app_for(echo_team()))
    for _ in range(2):
        response = await client.post(
            "/v1/chat/completions",
            json=body(stream=stream),
            headers={"x-conversation-id": "nl2\n"},
        )
        error = assert_error(response, 400)
        assert error["param"] == "X-Conversation-Id"  # the header it came in
    ok = await client.post(
        "/v1/chat/completions", json=body(stream=stream), headers={"x-conversation-id": "nl2"}
    )
    assert ok.status_code == 200
    assert ok.headers["x-conversation-id"] == "nl2"


# --- bodies that used to be 500s ---------------------------------------------------------


def _tool(parameters: str) -> str:
    return '{"type":"function","function":{"name":"f","parameters":' + parameters + "}}"


DEEP = [
    pytest.param(f'"tools":{deep_list(1000)}', "tools[0]", id="tools-1000-deep-list"),
    pytest.param(f'"tools":[{_tool(deep_object(1000))}]', None, id="tool-parameters-1000-deep"),
    pytest.param(
        f'"tools":[{_tool(deep_object(MAX_DEPTH + 1))}]',
        "tools[0].function.parameters",
        id="tool-parameters-past-the-limit",
    ),
    pytest.param(f'"tool_choice":{deep_list(1000)}', "tool_choice", id="tool-choice-1000-deep"),
    pytest.param(
        '"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":['
        + deep_object(500)
        + "]}}",
        "tool_choice.allowed_tools.tools",
        id="allowed-tools-500-deep",
    ),
    pytest.param(
        '"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":'
        + deep_object(MAX_DEPTH + 5)
        + "}}",
        "response_format.json_schema.schema",
        id="response-schema-past-the-limit",
    ),
    pytest.param(f'"whatever":{deep_object(10_000)}', None, id="unknown-field-10000-deep"),
    pytest.param(f'"metadata":{deep_object(10_000)}', "metadata", id="metadata-10000-deep"),
]


@pytest.mark.parametrize(("field", "param"), DEEP)
async def test_deep_json_is_400(raw_client: Any, field: str, param: str | None) -> None:
    client = await raw_client(app_for(echo_team()))
    raw = '{"model":"echo","messages":[{"role":"user","content":"hi"}],' + field + "}"
    error = assert_error(await post_raw(client, raw.encode()), 400)
    assert error["param"] == param
    assert (await client.post("/v1/chat/completions", json=body())).status_code == 200


async def test_deep_content_part_is_400(raw_client: Any) -> None:
    client = await raw_client(app_for(echo_team()))
    part = '{"type":"text","text":"hi","extra":' + deep_list(1000) + "}"
    raw = '{"model":"echo","messages":[{"role":"user","content":[' + part + "]}]}"
    error = assert_error(await post_raw(client, raw.encode()), 400)
    assert "nested too deeply" in error["message"]


async def test_body_that_is_not_utf8_is_400(raw_client: Any) -> None:
    client = await raw_client(app_for(echo_team()))
    raw = b'{"model":"echo","messages":[{"role":"user","content":"caf\xe9"}]}'
    error = assert_error(await post_raw(client, raw), 400)
    assert "UTF-8" in error["message"]


BAD_PARTS = [
    pytest.param({"type": "image_url", "image_url": 5}, "messages[0].content[0].image_url"),
    pytest.param({"type": "image_url", "image_url": {}}, "messages[0].content[0].image_url.url"),
    pytest.param(
        {"type": "image_url", "image_url": {"url": ""}}, "messages[0].content[0].image_url.url"
    ),
    pytest.param(
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "max"}},
        "messages[0].content[0].image_url.detail",
    ),
    pytest.param({"type": "text"}, "messages[0].content[0].text"),
    pytest.param({"type": "text", "text": 5}, "messages[0].content[0].text"),
    pytest.param({"type": "video"}, "messages[0].content[0].type"),
    pytest.param("just a string", "messages[0].content[0]"),
]


@pytest.mark.parametrize(("part", "param"), BAD_PARTS)
async def test_bad_content_parts_are_400_with_param(
    make_client: Any, part: Any, param: str
) -> None:
    client = await make_client(app_for(echo_team()))
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": [part]}]
        )
    assert caught.value.param == param  # type: ignore[attr-defined]


# --- wrong types in standard fields ------------------------------------------------------

WRONG = [
    ("temperature", "hot"),
    ("temperature", 3),
    ("top_p", 1.5),
    ("max_tokens", "10"),
    ("max_completion_tokens", 1.5),
    ("frequency_penalty", -3),
    ("presence_penalty", "0"),
    ("stream", "yes"),
    ("stream_options", {"include_usage": "yes"}),
    ("stream_options", "on"),
    ("n", 0),
    ("n", "1"),
    ("logprobs", 1),
    ("top_logprobs", 21),
    ("logit_bias", {"50256": "high"}),
    ("seed", "42"),
    ("stop", ["a", "b", "c", "d", "e"]),
    ("stop", 5),
    ("user", 42),
    ("user", None),
    ("metadata", {"k": 1}),
    ("response_format", {"type": "yaml"}),
    ("response_format", {"type": "json_schema"}),
    ("tools", [{"type": "function"}]),
    ("tools", [{"type": "function", "function": {"name": 3}}]),
    ("tool_choice", "sometimes"),
    ("parallel_tool_calls", "true"),
    ("modalities", ["smell"]),
    ("audio", {"voice": "alloy"}),
    ("reasoning_effort", "extreme"),
    ("service_tier", "gold"),
    ("verbosity", 2),
    ("store", "no"),
    ("prediction", {"type": "content"}),
    ("web_search_options", {"search_context_size": "huge"}),
    ("safety_identifier", "x" * 65),
    ("functions", []),
    ("function_call", "always"),
]


@pytest.mark.parametrize(
    ("field", "value"), WRONG, ids=[f"{f}={json.dumps(v)[:20]}" for f, v in WRONG]
)
async def test_wrong_types_in_standard_fields_are_400_with_param(
    raw_client: Any, field: str, value: Any
) -> None:
    client = await raw_client(app_for(echo_team()))
    error = assert_error(
        await client.post("/v1/chat/completions", json=body(**{field: value})), 400
    )
    assert error["param"] is not None and error["param"].split(".")[0].split("[")[0] == field


async def test_wrong_type_seen_by_the_openai_sdk(make_client: Any) -> None:
    client = await make_client(app_for(echo_team()))
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="echo", messages=USER, extra_body={"temperature": "hot"}
        )
    assert caught.value.param == "temperature"  # type: ignore[attr-defined]
    assert "temperature" in caught.value.message


VALID_IGNORED = {
    "temperature": 0.2,
    "top_p": 1,
    "max_tokens": 10,
    "max_completion_tokens": 100,
    "frequency_penalty": -1.5,
    "presence_penalty": 2,
    "stream_options": {"include_usage": True, "include_obfuscation": False},
    "n": 1,
    "logprobs": False,
    "top_logprobs": 0,
    "logit_bias": {"50256": -100},
    "seed": 42,
    "stop": ["END"],
    "user": "u-1",
    "safety_identifier": "s-1",
    "prompt_cache_key": "k",
    "metadata": {"team": "x"},
    # (a json_schema response_format is honoured: see test_client_tools.py)
    "response_format": {"type": "text"},
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "modalities": ["text"],
    "audio": {"voice": "alloy", "format": "mp3"},
    "reasoning_effort": "low",
    "service_tier": "auto",
    "verbosity": "low",
    "store": False,
    "prediction": {"type": "content", "content": "x"},
    "web_search_options": {"search_context_size": "low"},
    "moderation": None,
    "whatever_a_client_adds": {"free": ["form"]},
}


async def test_valid_values_a_team_ignores_are_accepted(raw_client: Any) -> None:
    client = await raw_client(app_for(echo_team()))
    messages = [
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "hi", "name": "ann"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "user", "content": [{"type": "text", "text": "and?"}]},
    ]
    response = await client.post(
        "/v1/chat/completions", json={**VALID_IGNORED, "model": "echo", "messages": messages}
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "hi there"


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "user"}, "messages[0].content"),
        ({"role": "user", "content": None}, "messages[0].content"),
        (
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            "messages[0].content[0].type",
        ),
        ({"role": "tool", "content": "x"}, "messages[0].tool_call_id"),
        (
            {"role": "assistant", "content": "x", "tool_calls": [{"id": "c"}]},
            "messages[0].tool_calls[0].type",
        ),
    ],
)
async def test_messages_are_checked_by_role(raw_client: Any, message: Any, param: str) -> None:
    client = await raw_client(app_for(echo_team()))
    response = await client.post(
        "/v1/chat/completions", json={"model": "echo", "messages": [message, *USER]}
    )
    assert assert_error(response, 400)["param"] == param
