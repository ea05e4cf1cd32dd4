"""The studio in process: who may open it, what it shows of a config, the checker, a run's
costs, and the drawing of who can pass to whom."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.asgi import Served
from troupe.agents import AssistantAgent
from troupe.config import read_config
from troupe.events import (
    AgentFinished,
    AgentStarted,
    RunEnded,
    RunStarted,
    ToolCalled,
    ToolResultReturned,
    UsageReported,
)
from troupe.messages import Usage
from troupe.models import ScriptedModel
from troupe.server import create_app
from troupe.store import RunRecord
from troupe.studio._graph import team_svg
from troupe.studio._runs import Pricing, run_view
from troupe.teams import GraphTeam, SwarmTeam
from troupe.teams.graph import Edge

pytestmark = pytest.mark.anyio

CONFIG = """
models:
  main: {{provider: demo, price: {{input: 2.0, output: 8.0}}}}
  paid: {{provider: openai, model: gpt-x, api_key: sk-literal-secret-123, demo_when_no_key: true}}
teams:
  helper:
    agents: [{{name: helper, model: main}}]
  flow:
    kind: graph
    agents: [{{name: draft, model: main}}, {{name: review, model: main}}]
    edges: [{{from: draft, to: review}}]
server:
  database_url: memory
{server}
"""


def app_with(tmp_path: Path, server: str = "  studio: true") -> Any:
    config = tmp_path / "teams.yaml"
    config.write_text(CONFIG.format(server=server))
    return create_app(config)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*"))


async def client_from(served: Served, app: Any, host: str) -> httpx2.AsyncClient:
    await served.app(app)
    transport = httpx2.ASGITransport(app=app, client=(host, 40000))
    client = httpx2.AsyncClient(transport=transport, base_url="http://troupe.test")
    served.stack.push_async_callback(client.aclose)
    return client


async def test_studio_off_is_not_there(served: Served, tmp_path: Path) -> None:
    client = await served.http(app_with(tmp_path, "  studio: false"))
    assert (await client.get("/studio")).status_code == 404
    assert (await client.get("/studio/api/teams")).status_code == 404
    assert (await client.get("/v1/models")).status_code == 200


async def test_off_this_machine_without_keys_the_studio_is_401(
    served: Served, tmp_path: Path
) -> None:
    app = app_with(tmp_path)
    remote = await client_from(served, app, "10.1.2.3")
    for path in ("/studio", "/studio/api/teams", "/studio/static/studio.js"):
        response = await remote.get(path)
        assert response.status_code == 401, path
        assert "server.api_keys" in response.json()["error"]["message"]
    local = await client_from(served, app, "127.0.0.1")
    assert (await local.get("/studio")).status_code == 200
    teams = (await local.get("/studio/api/teams")).json()["data"]
    assert [t["name"] for t in teams] == ["helper", "flow"]


async def test_with_keys_the_page_opens_and_its_data_needs_a_key(
    served: Served, tmp_path: Path
) -> None:
    app = app_with(tmp_path, "  api_keys: [sk-a, sk-b]")
    remote = await client_from(served, app, "10.1.2.3")
    page = await remote.get("/studio")
    assert page.status_code == 200
    assert 'data-secured="true"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert (await remote.get("/studio/static/studio.js")).status_code == 200
    assert (await remote.get("/studio/api/teams")).status_code == 401
    ok = await remote.get("/studio/api/teams", headers={"authorization": "Bearer sk-a"})
    assert ok.status_code == 200


async def test_a_key_sees_only_its_own_runs(served: Served, tmp_path: Path) -> None:
    client = await served.http(app_with(tmp_path, "  api_keys: [sk-a, sk-b]"))
    a, b = {"authorization": "Bearer sk-a"}, {"authorization": "Bearer sk-b"}
    body = {"model": "helper", "messages": [{"role": "user", "content": "hello"}]}
    started = await client.post("/v1/chat/completions", json=body, headers=a)
    run_id = started.headers["x-run-id"]
    mine = (await client.get("/studio/api/runs", headers=a)).json()["data"]
    assert [r["id"] for r in mine] == [run_id]
    assert (await client.get("/studio/api/runs", headers=b)).json()["data"] == []
    other = await client.get(f"/studio/api/runs/{run_id}", headers=b)
    assert other.status_code == 404
    assert other.json()["error"]["param"] == "run_id"
    view = (await client.get(f"/studio/api/runs/{run_id}", headers=a)).json()
    assert view["run"]["status"] == "completed"
    assert view["events"][0]["event"]["type"] == "run_start"
    assert view["agents"]["helper"]["cost"] > 0  # the demo model's tokens at the price
    assert "X-Conversation-Id: " + view["run"]["conversation_id"] in view["curl"]
    assert "$TROUPE_API_KEY" in view["curl"] and "sk-a" not in view["curl"]
    filtered = await client.get("/studio/api/runs?team=flow", headers=a)
    assert filtered.json()["data"] == []


async def test_the_config_is_shown_with_its_secrets_masked(served: Served, tmp_path: Path) -> None:
    client = await served.http(app_with(tmp_path, "  api_keys: [sk-a, sk-b]"))
    shown = (await client.get("/studio/api/config", headers={"x-api-key": "sk-a"})).json()
    assert shown["file"] == "teams.yaml"
    assert "sk-literal-secret-123" not in shown["yaml"]
    assert "sk-b" not in shown["yaml"]
    assert "********" in shown["yaml"]
    assert "gpt-x" in shown["yaml"]


async def test_the_checker_names_each_error_by_its_path_and_writes_nothing(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_TEST_SECRET", "hunter2")
    client = await served.http(app_with(tmp_path))
    before = listing(tmp_path)
    text = (
        "models:\n  m: {provider: openai, model: '${STUDIO_TEST_SECRET}', "
        "temperature: '${STUDIO_TEST_SECRET}'}\n"
        "teams:\n  t:\n    agents:\n      - {name: a, model: nope}\n"
    )
    answer = (await client.post("/studio/api/check", json={"yaml": text})).json()
    assert answer["ok"] is False
    paths = [e["path"] for e in answer["errors"]]
    assert "$.teams.t.agents[0].model" in paths
    assert "$.models.m.temperature" in paths
    assert "hunter2" not in str(answer)
    broken = (await client.post("/studio/api/check", json={"yaml": "teams: [\n"})).json()
    assert broken["errors"][0]["message"].startswith("invalid YAML at line")
    good = "models: {m: {provider: demo}}\nteams: {t: {agents: [{name: a, model: m}]}}\n"
    assert (await client.post("/studio/api/check", json={"yaml": good})).json() == {
        "ok": True,
        "errors": [],
        "teams": ["t"],
        "models": ["m"],
    }
    assert listing(tmp_path) == before


async def test_the_checker_runs_no_code_and_takes_only_json(served: Served, tmp_path: Path) -> None:
    """Whoever can type in the checker (any key; any web page, when the studio is open on
    loopback) cannot make the server import a module: a seed script beside the config,
    or anything on its path."""
    (tmp_path / "seed_script.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('ran').write_text('yes')\n"
        "def tool(x: int) -> int:\n    return x\n"
    )
    client = await served.http(app_with(tmp_path, "  api_keys: [sk-a, sk-b]"))
    key = {"x-api-key": "sk-b"}
    for path in ("seed_script:tool", "this:s"):
        text = (
            "models: {m: {provider: demo}}\n"
            f"teams: {{t: {{agents: [{{name: a, model: m, tools: ['{path}']}}]}}}}\n"
        )
        answer = (await client.post("/studio/api/check", json={"yaml": text}, headers=key)).json()
        assert answer["ok"] is False
        assert "imports nothing" in answer["errors"][0]["message"]
    assert not (tmp_path / "ran").exists()
    assert "this" not in sys.modules  # the Zen of Python was not printed
    # A form on another site can post text/plain without a CORS preflight: refused.
    plain = await client.post(
        "/studio/api/check",
        content='{"yaml": "x: 1"}',
        headers={**key, "content-type": "text/plain"},
    )
    assert plain.status_code == 400


def test_a_run_view_gives_each_step_its_time_and_each_call_its_cost() -> None:
    spec = read_config(
        "models: {m: {provider: demo, price: {input: 1.0, output: 4.0}}}\n"
        "teams: {t: {agents: [{name: a, model: m}]}}\n"
    )
    events = [
        RunStarted(agent="t", run_id="run_1", conversation_id="c"),
        AgentStarted(agent="a", message_id="m1"),
        ToolCalled(agent="a", call_id="k", name="calculator", arguments="{}"),
        ToolResultReturned(agent="a", call_id="k", name="calculator", content="x", is_error=True),
        UsageReported(agent="a", usage=Usage(prompt_tokens=1000, completion_tokens=500)),
        AgentFinished(agent="a", message_id="m1"),
        RunEnded(agent="t", stop_reason="done"),
    ]
    record = RunRecord(id="run_1", conversation_id="c", team="t")
    view = run_view(record, events, [0, 5, 100, 350, 900, 910, 920], Pricing(spec))
    durations = {row["event"]["type"]: row.get("duration_ms") for row in view["events"]}
    assert durations["tool_result"] == 250
    assert durations["usage"] == 550  # from the tool's result to the answer
    assert durations["agent_end"] == 905
    assert view["calls"][0]["cost"] == pytest.approx((1000 * 1.0 + 500 * 4.0) / 1e6)
    assert view["agents"]["a"]["calls"] == 1
    assert view["errors"] == [{"seq": 4, "agent": "a", "kind": "tool", "cause": "calculator"}]
    assert view["duration_ms"] == 920


def test_graph_and_swarm_teams_are_drawn_with_their_arrows() -> None:
    model = ScriptedModel(["x"])
    graph = GraphTeam(
        "flow",
        [AssistantAgent(n, model) for n in ("draft", "review", "publish")],
        edges=[
            Edge("draft", "review"),
            Edge("review", "publish", condition="APPROVE"),
            Edge("review", "draft", condition="REVISE"),
        ],
        entry=["draft"],
    )
    svg = team_svg(graph)
    assert svg is not None and svg.startswith("<svg")
    assert svg.count('class="edge"') == 3
    assert 'data-from="review" data-to="draft"' in svg
    assert "when the message says &#x27;REVISE&#x27;" in svg
    swarm = SwarmTeam(
        "desk",
        [
            AssistantAgent("triage", model, handoffs=["billing"]),
            AssistantAgent("billing", model, handoffs=["user"]),
        ],
    )
    drawn = team_svg(swarm)
    assert drawn is not None
    assert 'data-agent="user"' in drawn and "node-user" in drawn
    assert 'data-from="triage" data-to="billing"' in drawn


def test_the_selectors_own_model_calls_are_priced_at_its_model() -> None:
    spec = read_config(
        "models:\n"
        "  cheap: {provider: demo, price: {input: 1.0, output: 1.0}}\n"
        "  dear: {provider: demo, price: {input: 10.0, output: 10.0}}\n"
        "teams:\n  panel:\n    kind: selector\n    selector: {model: cheap}\n"
        "    agents: [{name: a, model: dear}, {name: b, model: dear}]\n"
    )
    pricing = Pricing(spec)
    assert pricing.model_of("panel", "panel.selector") == "cheap"
    assert pricing.model_of("panel", "b") == "dear"
    assert pricing.cost("cheap", Usage(prompt_tokens=1_000_000)) == pytest.approx(1.0)
    assert pricing.cost(pricing.model_of("other", "a"), Usage(prompt_tokens=5)) is None
