"""The Responses API with the official openai SDK against the in-process app: objects and
stream events validated against OpenAI's spec, background + resume, chaining, client tools."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from tests.server.conftest import app_for
from tests.spec import validate
from troupe.agents import AssistantAgent
from troupe.messages import ToolMessage, UserMessage, text_of
from troupe.models import FunctionModel, ModelRequest, ModelResponse, ScriptedModel, tool_call
from troupe.models.testing import Reply
from troupe.teams import RoundRobinTeam
from troupe.tools import function_tool

pytestmark = pytest.mark.anyio

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def calc_team() -> RoundRobinTeam:
    model = ScriptedModel([tool_call("add", '{"a": 2, "b": 3}', id="call_a"), "The sum is 5."] * 2)
    return RoundRobinTeam("calc", [AssistantAgent("calc", model, tools=[function_tool(add)])])


def echo(request: ModelRequest) -> Reply:
    """Answers with what it heard: every user message so far, and tool results."""
    if isinstance(request.messages[-1], ToolMessage):
        return "Forecast: " + request.messages[-1].content
    if any(tool.name == "get_weather" for tool in request.tools):
        return ModelResponse(tool_calls=(tool_call("get_weather", '{"city": "Oslo"}', id="c1"),))
    heard = [text_of(m) for m in request.messages if isinstance(m, UserMessage)]
    return "heard: " + " | ".join(heard)


def echo_team() -> RoundRobinTeam:
    return RoundRobinTeam("echo", [AssistantAgent("echo", FunctionModel(echo))])


def _standard(event: dict[str, Any]) -> bool:
    return not str(event["type"]).startswith("troupe:")


async def test_create_answers_with_message_items_and_the_work_as_reasoning(
    make_client: Any, raw_client: Any
) -> None:
    app = app_for(calc_team())
    client = await make_client(app)
    response = await client.responses.create(model="calc", input="2+3?")
    assert response.status == "completed"
    assert response.output_text == "The sum is 5."
    kinds = [item.type for item in response.output]
    # The server-side tool call is readable work, never a function_call a client would run.
    assert kinds == ["reasoning", "message"]
    assert "`calc` calls `add" in response.output[0].summary[0].text  # type: ignore[union-attr]
    message = response.output[1].model_dump()
    assert message["troupe"] == {"agent": "calc"}
    raw = (await (await raw_client(app)).get(f"/v1/responses/{response.id}")).json()
    validate(raw, "Response")
    assert raw["output"] == response.model_dump(exclude_unset=True)["output"]
    assert raw["usage"]["total_tokens"] > 0


async def test_the_stream_is_standard_events_in_sequence(make_client: Any, raw_client: Any) -> None:
    app = app_for(calc_team())
    client = await make_client(app)
    http = await raw_client(app)
    raw = await http.post("/v1/responses", json={"model": "calc", "input": "2+3?", "stream": True})
    events = _data(raw.text)
    numbers = [event["sequence_number"] for event in events]
    assert numbers == sorted(set(numbers)) and numbers[0] == 0
    for event in filter(_standard, events):
        validate(event, "ResponseStreamEvent")
    kinds = [e["type"] for e in filter(_standard, events)]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    for kind in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert kind in kinds
    assert "function_call" not in json.dumps([e for e in events if _standard(e)])
    assert {"troupe:tool_call", "troupe:tool_result"} <= {e["type"] for e in events}
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "The sum is 5."

    # The SDK reads the same stream, extension events and all, without a fault.
    sdk = await client.responses.create(model="calc", input="again?", stream=True)
    seen = [event async for event in sdk]
    assert seen[-1].type == "response.completed"
    assert seen[-1].response.output_text == "The sum is 5."  # type: ignore[union-attr]


def _data(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


async def test_background_then_resume_the_stream_after_a_sequence_number(
    make_client: Any, raw_client: Any
) -> None:
    gate = anyio.Event()

    async def slow(request: ModelRequest) -> str:
        await gate.wait()
        return "done at last"

    app = app_for(RoundRobinTeam("slow", [AssistantAgent("slow", FunctionModel(slow))]))
    client = await make_client(app)
    started = await client.responses.create(model="slow", input="go", background=True)
    assert started.status == "in_progress" and started.background is True
    http = await raw_client(app)
    gate.set()
    full = await http.get(f"/v1/responses/{started.id}", params={"stream": "true"})
    events = _data(full.text)
    resumed = await http.get(
        f"/v1/responses/{started.id}", params={"stream": "true", "starting_after": "3"}
    )
    rest = _data(resumed.text)
    assert rest == events[4:]
    assert rest[-1]["type"] == "response.completed"
    retrieved = await client.responses.retrieve(started.id)
    assert retrieved.output_text == "done at last"


async def test_cancel_a_background_response(make_client: Any) -> None:
    async def never(request: ModelRequest) -> str:
        await anyio.sleep_forever()
        return ""

    client = await make_client(
        app_for(RoundRobinTeam("stuck", [AssistantAgent("s", FunctionModel(never))]))
    )
    started = await client.responses.create(model="stuck", input="go", background=True)
    cancelled = await client.responses.cancel(started.id)
    assert cancelled.status == "cancelled"
    validate(cancelled.model_dump(exclude_unset=True), "Response")


async def test_a_deleted_response_is_gone_and_its_turns_stay(make_client: Any) -> None:
    import openai

    client = await make_client(app_for(echo_team()))
    first = await client.responses.create(model="echo", input="my name is Ada")
    deleted = await client.responses.delete(first.id)
    assert deleted is None or getattr(deleted, "deleted", True)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(first.id)
    # The conversation keeps what the run added: a plain client's history still finds it.
    again = await client.responses.create(
        model="echo",
        input=[
            {"role": "user", "content": "my name is Ada"},
            {"role": "assistant", "content": first.output_text},
            {"role": "user", "content": "what is my name?"},
        ],
    )
    assert again.output_text.startswith("heard: my name is Ada")


@pytest.mark.parametrize("stream", [False, True])
async def test_a_response_not_stored_is_answered_then_gone(make_client: Any, stream: bool) -> None:
    import openai

    client = await make_client(app_for(echo_team()))
    if stream:
        events = [e async for e in await client.responses.create(
            model="echo", input="my name is Ada", store=False, stream=True)]  # fmt: skip
        first = events[-1].response  # type: ignore[union-attr]
    else:
        first = await client.responses.create(model="echo", input="my name is Ada", store=False)
    assert first.output_text == "heard: my name is Ada" and first.store is False
    with anyio.fail_after(5):  # deleted as its run ends, which the answer may just precede
        while True:
            try:
                await client.responses.retrieve(first.id)
            except openai.NotFoundError:
                break
            await anyio.sleep(0.02)
    with pytest.raises(openai.BadRequestError, match="previous response"):
        await client.responses.create(model="echo", input="and?", previous_response_id=first.id)
    with pytest.raises(openai.BadRequestError, match="store") as caught:
        await client.responses.create(model="echo", input="x", store=False, background=True)
    assert caught.value.body["param"] == "store"  # type: ignore[index]


async def test_previous_response_id_continues_the_conversation(make_client: Any) -> None:
    client = await make_client(app_for(echo_team()))
    first = await client.responses.create(model="echo", input="my name is Ada")
    second = await client.responses.create(
        model="echo", input="what is my name?", previous_response_id=first.id
    )
    assert second.output_text == "heard: my name is Ada | what is my name?"
    assert second.previous_response_id == first.id
    items = await client.responses.input_items.list(second.id)
    assert [item.content[0].text for item in items.data] == ["what is my name?"]  # type: ignore[union-attr]


async def test_a_history_sent_back_whole_finds_its_conversation(make_client: Any) -> None:
    client = await make_client(app_for(echo_team()))
    first = await client.responses.create(model="echo", input="my name is Ada")
    history = [
        {"role": "user", "content": "my name is Ada"},
        *[item.model_dump() for item in first.output],
        {"role": "user", "content": "and?"},
    ]
    second = await client.responses.create(model="echo", input=history)
    assert second.output_text == "heard: my name is Ada | and?"


async def test_function_tools_are_the_clients_and_function_call_output_resumes(
    make_client: Any,
) -> None:
    client = await make_client(app_for(echo_team()))
    first = await client.responses.create(model="echo", input="weather?", tools=[WEATHER])
    [call] = first.output
    assert call.type == "function_call" and call.call_id == "c1" and call.name == "get_weather"
    validate(first.model_dump(exclude_unset=True), "Response")
    second = await client.responses.create(
        model="echo",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "c1", "output": "snow"}],
        tools=[WEATHER],
    )
    assert second.output_text == "Forecast: snow"


async def test_text_format_reaches_the_answering_agent(make_client: Any) -> None:
    model = ScriptedModel(['{"sky": "clear"}'])
    client = await make_client(app_for(RoundRobinTeam("sky", [AssistantAgent("sky", model)])))
    schema = {"type": "object", "properties": {"sky": {"type": "string"}}, "required": ["sky"]}
    response = await client.responses.create(
        model="sky",
        input="sky?",
        instructions="Answer in JSON.",
        text={"format": {"type": "json_schema", "name": "sky", "schema": schema}},
    )
    assert json.loads(response.output_text) == {"sky": "clear"}
    request = model.requests[0]
    assert request.output_schema is not None and request.output_schema.schema == schema
    assert "Answer in JSON." in text_of(request.messages[0])
    assert response.text.format.type == "json_schema"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"previous_response_id": "resp_nope"}, "previous_response_id"),
        (
            {"input": [{"type": "function_call_output", "call_id": "zz", "output": "x"}]},
            "input",
        ),
        ({"tools": [{"type": "function", "name": "add"}]}, "tools[0]"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": [{"type": "computer_call_output"}]}, "input[0].type"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    raw_client: Any, body: dict[str, Any], param: str
) -> None:
    http = await raw_client(app_for(calc_team()))
    response = await http.post("/v1/responses", json={"model": "calc", "input": "hi", **body})
    assert response.status_code == 400, response.text
    validate(response.json(), "ErrorResponse")
    assert response.json()["error"]["param"] == param


async def test_unknown_response_is_404(raw_client: Any) -> None:
    http = await raw_client(app_for(calc_team()))
    response = await http.get("/v1/responses/resp_0000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "response_not_found"


async def test_a_question_for_the_human_is_a_message_and_the_next_input_answers_it(
    make_client: Any,
) -> None:
    from troupe.agents import UserProxyAgent

    writer = AssistantAgent("writer", FunctionModel(echo))
    team = RoundRobinTeam("ask", [writer, UserProxyAgent("human", prompt="Approve?")])
    client = await make_client(app_for(team))
    first = await client.responses.create(model="ask", input="draft")
    assert first.status == "completed"
    said = [item.model_dump()["troupe"]["agent"] for item in first.output]
    assert said == ["writer", "human"]
    assert first.output_text.endswith("Approve?")
    second = await client.responses.create(model="ask", input="yes", previous_response_id=first.id)
    # The writer answers the human's "yes"; then, round robin, the human is asked again.
    assert second.output_text == "heard: draft | yesApprove?"


async def test_another_key_cannot_see_or_chain_a_response(raw_client: Any) -> None:
    http = await raw_client(app_for(echo_team(), api_keys=["key-a", "key-b"]))
    a, b = {"authorization": "Bearer key-a"}, {"authorization": "Bearer key-b"}
    created = await http.post("/v1/responses", json={"model": "echo", "input": "hi"}, headers=a)
    response_id = created.json()["id"]
    for method, path in (("GET", ""), ("POST", "/cancel"), ("GET", "/input_items")):
        other = await http.request(method, f"/v1/responses/{response_id}{path}", headers=b)
        assert other.status_code == 404
    chained = await http.post(
        "/v1/responses",
        json={"model": "echo", "input": "again", "previous_response_id": response_id},
        headers=b,
    )
    assert chained.status_code == 400
    assert chained.json()["error"]["param"] == "previous_response_id"
