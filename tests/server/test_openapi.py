"""``/openapi.json`` documents every route with OpenAI's shapes; ``/docs`` needs no network."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.routes import HTTPRoute

from tests.server.conftest import app_for
from tests.server.test_errors import echo_team
from tests.spec import validate

pytestmark = pytest.mark.anyio

UNDOCUMENTED = {"/openapi.json", "/docs", "/health", "/health/live", "/health/ready"}


async def test_every_route_is_documented(raw_client: Any) -> None:
    app = app_for(echo_team())
    document = (await (await raw_client(app)).get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    served = {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path), method.lower())
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for method in route.methods
        if method not in ("OPTIONS", "HEAD")
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    # Path parameters may be named differently in the document ({model} for {model_id}).
    assert shape(served) == shape(documented)


def shape(routes: set[tuple[str, str]]) -> set[tuple[str, str]]:
    # The studio's routes serve its own page (docs/studio.md), not the API; the agent
    # protocols' bare paths (/ag-ui/..., /a2a/...) are aliases of their /v1 routes.
    return {
        (re.sub(r"\{\w+\}", "{}", p), m)
        for p, m in routes
        if p not in UNDOCUMENTED and not p.startswith(("/studio", "/ag-ui/", "/a2a/"))
    }


async def test_standard_shapes_are_openais_and_additions_are_marked(raw_client: Any) -> None:
    document = (await (await raw_client(app_for(echo_team()))).get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    chat = document["paths"]["/v1/chat/completions"]["post"]
    body = chat["requestBody"]["content"]["application/json"]["schema"]
    request = schemas[body["$ref"].rsplit("/", 1)[-1]]
    assert request["x-troupe"] is True
    assert {"$ref": "#/components/schemas/CreateChatCompletionRequest"} in request["allOf"]
    assert schemas["TeamName"]["enum"] == ["echo"]
    ok = chat["responses"]["200"]["content"]
    data = ok["text/event-stream"]["itemSchema"]["properties"]["data"]["anyOf"][1]
    assert data["contentSchema"]["$ref"].endswith("/CreateChatCompletionStreamResponse")
    models = document["paths"]["/v1/models"]["get"]["responses"]["200"]
    assert models["content"]["application/json"]["schema"]["$ref"].endswith("/ListModelsResponse")
    error = document["components"]["responses"]["Error400"]["content"]["application/json"]
    assert error["schema"]["$ref"].endswith("/ErrorResponse")
    # OpenAI's own schema names the same thing: the generated copy is not stale.
    validate({"error": {"message": "m", "type": "t", "param": None, "code": None}}, "ErrorResponse")
    conversations = document["paths"]["/v1/conversations"]["get"]
    assert conversations["x-troupe"] is True


async def test_team_names_are_not_listed_to_anyone_when_keys_are_required(raw_client: Any) -> None:
    document = (
        await (await raw_client(app_for(echo_team(), api_keys=["sk-k-123456"]))).get(
            "/openapi.json"
        )
    ).json()
    assert "enum" not in document["components"]["schemas"]["TeamName"]
    assert document["security"] == [{"bearer": []}]


async def test_docs_page_loads_nothing_from_elsewhere(raw_client: Any) -> None:
    page = await (await raw_client(app_for(echo_team()))).get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)
    assert 'fetch("openapi.json")' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_each_discriminator_maps_the_values_sent(raw_client: Any) -> None:
    """OpenAI's spec names no mapping, so a client's validator maps schema names
    (``Message``) and rejects every real item (``"type": "message"``): the document maps
    the values, or has no discriminator where members share or lack one."""
    document = (await (await raw_client(app_for(echo_team()))).get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("discriminator"), dict):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert found
    for node in found:
        discriminator = node["discriminator"]
        mapping = discriminator["mapping"]
        members = {m["$ref"] for m in node.get("oneOf") or node.get("anyOf")}
        assert set(mapping.values()) == members
        for value, ref in mapping.items():
            prop = schemas[ref.rsplit("/", 1)[-1]]["properties"][discriminator["propertyName"]]
            assert value in prop.get("enum", [prop.get("const")])
    assert "discriminator" not in schemas["ConversationItem"] or schemas["ConversationItem"][
        "discriminator"
    ]["mapping"].get("message", "").endswith("/Message")
