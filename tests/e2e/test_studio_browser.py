"""The studio in headless Chromium against a real ``troupe serve`` and the fake upstream:
the teams and their drawings, a playground run whose tool call and handoff appear as they
happen, an input request answered from the page, Stop, a run replayed from its log, another
key's runs kept out, the config checker. Screenshots land in ``test-artifacts/studio/``;
with ``TROUPE_UPDATE_DOCS_SCREENSHOTS=1`` they also replace ``docs/studio/*.png``."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import expect

from tests.browser import browser
from tests.e2e.conftest import ROOT, Upstream, free_port, start, stop
from tests.sse import sse_frames

pytestmark = pytest.mark.e2e
__all__ = ["browser"]

KEY_A, KEY_B = "sk-studio-a", "sk-studio-b"
SERVE = [sys.executable, "-m", "troupe.cli", "serve"]
ARTIFACTS = ROOT / "test-artifacts" / "studio"
DOCS = ROOT / "docs" / "studio"
CONFIG = """
models:
  fake:
    provider: openai
    model: fake-model
    base_url: "{base_url}"
    api_key: none
    max_retries: 0
    price: {{input: 2.5, output: 10}}
teams:
  desk:
    description: Triage works out the amount, then hands the customer to billing.
    kind: swarm
    agents:
      - name: triage
        model: fake
        tools: ["troupe.tools.builtin:calculator"]
        handoffs: [billing]
        max_tool_iterations: 3
      - {{name: billing, model: fake, handoffs: [user]}}
  pipeline:
    description: Draft, review, publish.
    kind: graph
    agents:
      - {{name: draft, model: fake}}
      - {{name: review, model: fake}}
      - {{name: publish, model: fake}}
    edges: [{{from: draft, to: review}}, {{from: review, to: publish}}]
  asker:
    description: A planner asks the human before the doer acts.
    agents:
      - {{name: planner, model: fake}}
      - {{kind: user_proxy, name: human}}
      - {{name: doer, model: fake}}
    termination: {{text_mention: Done}}
  writer:
    agents: [{{name: writer, model: fake}}]
  panel:
    description: A model picks who answers.
    kind: selector
    selector: {{model: fake}}
    agents:
      - {{name: historian, model: fake, description: Knows the past.}}
      - {{name: chemist, model: fake, description: Knows tea chemistry.}}
    termination: {{max_messages: 2}}
  coder:
    description: An author writes code; it runs once a person approves.
    agents:
      - {{name: author, model: fake}}
      - {{kind: code_executor, name: runner, executor: box}}
    termination: {{max_messages: 3}}
executors:
  box: {{kind: local, enabled: true, approval: always}}
server:
  api_keys: [{key_a}, {key_b}]
"""


class StudioServer:
    def __init__(self, directory: Path, upstream: Upstream) -> None:
        config = directory / "teams.yaml"
        config.write_text(CONFIG.format(base_url=upstream.base_url, key_a=KEY_A, key_b=KEY_B))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TROUPE_")}
        self.proc = start(
            [*SERVE, "--config", str(config), "--port", str(self.port), "--log-level", "warning"],
            f"{self.url}/health",
            env={**env, "TROUPE_BLOCK_REMOTE_MODELS": "1"},
            cwd=directory,
            replace_env=True,
        )

    def api(self, method: str, path: str, key: str = KEY_A, **kwargs: Any) -> httpx2.Response:
        headers = {"authorization": f"Bearer {key}"}
        return httpx2.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def studio(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    server = StudioServer(tmp_path_factory.mktemp("studio"), upstream)
    yield server
    stderr = stop(server.proc)
    assert "Traceback" not in stderr, stderr


def open_page(browser: Any, studio: StudioServer, where: str, key: str = KEY_A) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    context.add_init_script(f"sessionStorage.setItem('troupe.studio.key', {json.dumps(key)})")
    page = context.new_page()
    page.goto(f"{studio.url}/studio#/{where}")
    return page


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if os.environ.get("TROUPE_UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / f"{name}.png", DOCS / f"{name}.png")


def desk_script(upstream: Upstream, billing_delay: float = 0.0) -> None:
    upstream.reset()
    upstream.script(
        {"tool_calls": [{"name": "calculator", "arguments": '{"expression": "19.99*3"}'}]},
        {"tool_calls": [{"name": "transfer_to_billing", "arguments": "{}"}]},
        {"text": "Billing here: three seats come to 59.97.", "delay": billing_delay},
    )


def test_the_teams_page_lists_every_team_with_its_drawing(
    browser: Any, studio: StudioServer
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    page = context.new_page()
    page.goto(f"{studio.url}/studio")
    page.wait_for_selector("#notice:not([hidden])")  # no key yet: the page asks for one
    assert "API key" in page.inner_text("#notice")
    page.fill("#key-input", KEY_A)
    page.click("#key-form button")
    page.wait_for_selector("article.team")
    names = page.eval_on_selector_all("article.team", "els => els.map(e => e.dataset.team)")
    assert names == ["desk", "pipeline", "asker", "writer", "panel", "coder"]
    pipeline = page.locator("#team-pipeline svg.team-graph")
    assert pipeline.locator(".node").count() == 3
    assert pipeline.locator(".edge").count() == 2
    desk = page.locator("#team-desk")
    assert desk.locator("svg .node-user").count() == 1  # billing can hand off to the user
    assert "calculator" in desk.locator("table.agents").inner_text()
    assert "text_mention Done" in page.locator("#team-asker .termination").inner_text()
    assert page.locator("#team-writer svg").count() == 0  # a round robin has no arrows
    screenshot(page, "teams")
    context.close()


def test_a_playground_run_shows_its_tool_call_and_handoff_as_they_happen(
    browser: Any, studio: StudioServer, upstream: Upstream
) -> None:
    desk_script(upstream, billing_delay=0.25)
    page = open_page(browser, studio, "play/desk")
    page.fill("#prompt", "Three seats at 19.99: what do I owe?")
    page.click("#send")
    tool = page.locator("#timeline .step-tool_call[data-result]", has_text="calculator")
    tool.wait_for()
    assert "59.97" in tool.inner_text()
    handoff = page.locator("#timeline .step-handoff")
    handoff.wait_for()
    assert handoff.locator(".target").inner_text() == "billing"
    # Billing is still writing (its upstream is slow): the run has not ended yet.
    assert page.locator("#timeline .step-run_end").count() == 0
    page.wait_for_selector("#timeline .step-run_end")
    lanes = page.eval_on_selector_all(
        "#timeline .lane-head", "els => els.map(e => e.dataset.agent)"
    )
    assert lanes == ["triage", "billing"]
    assert page.locator("#timeline .step-tool_call").first.get_attribute("data-agent") == "triage"
    assert "59.97" in page.locator(".chat .msg.assistant").last.inner_text()
    billing = page.locator("#timeline .step-agent_start[data-agent=billing] .message")
    assert billing.inner_text() == "Billing here: three seats come to 59.97."
    screenshot(page, "playground")
    page.context.close()


def test_an_input_request_answered_in_the_page_resumes_the_run(
    browser: Any, studio: StudioServer, upstream: Upstream
) -> None:
    upstream.reset()
    upstream.script({"text": "Plan: paint the shed blue."}, {"text": "Done: the shed is blue."})
    page = open_page(browser, studio, "play/asker")
    page.fill("#prompt", "Plan the weekend")
    page.click("#send")
    answer = page.locator("#timeline .step-input_requested input.answer")
    answer.wait_for()
    answer.fill("Yes, go ahead")
    page.locator("#timeline .step-input_requested button[type=submit]").click()
    page.wait_for_selector("#timeline .lane-head[data-agent=doer]")
    expect(page.locator("#timeline .step-run_end")).to_have_count(2)
    assert "answered: Yes, go ahead" in page.inner_text("#timeline .step-input_requested")
    assert "Done: the shed is blue." in page.locator(".chat .msg.assistant").last.inner_text()
    runs = page.eval_on_selector_all(".run-link", "els => els.map(e => e.textContent)")
    assert len(runs) == 2
    last = runs[-1].split()[2]
    assert studio.api("GET", f"/v1/runs/{last}").json()["status"] == "completed"
    page.context.close()


def test_stop_stops_the_run(browser: Any, studio: StudioServer, upstream: Upstream) -> None:
    upstream.reset()
    upstream.script({"text": "word " * 200, "delay": 0.1})
    page = open_page(browser, studio, "play/writer")
    page.fill("#prompt", "Write at length")
    page.click("#send")
    page.wait_for_selector("#timeline .step-agent_start .message")
    run_id = page.get_attribute("#stop", "data-run")
    assert run_id
    page.click("#stop")
    page.wait_for_selector("#timeline .step-run_end")
    run = studio.api("GET", f"/v1/runs/{run_id}").json()
    assert run["status"] == "cancelled"
    assert "cancelled" in page.inner_text("#timeline .step-run_end")
    assert page.is_enabled("#send")
    page.context.close()


def _wire_types(studio: StudioServer, run_id: str) -> list[str]:
    response = studio.api("GET", f"/v1/runs/{run_id}/stream?after=0")
    types = []
    for frame in sse_frames(response.text):
        if frame.data != "[DONE]":
            for choice in json.loads(frame.data)["choices"]:
                event = choice["delta"].get("troupe")
                if event:
                    types.append(event["type"])
    return types


def test_a_finished_runs_timeline_is_replayed_from_its_log(
    browser: Any, studio: StudioServer, upstream: Upstream
) -> None:
    desk_script(upstream)
    body = {"model": "desk", "messages": [{"role": "user", "content": "Three seats?"}]}
    run_id = studio.api("POST", "/v1/chat/completions", json=body).headers["x-run-id"]
    page = open_page(browser, studio, f"runs/{run_id}")
    page.wait_for_selector("#replay .step-run_end")
    shown = page.eval_on_selector_all("#replay .step", "els => els.map(e => e.dataset.type)")
    wire = _wire_types(studio, run_id)
    steps = {"run_start", "agent_start", "tool_call", "handoff", "run_end"}
    assert [t for t in shown if t in steps] == [t for t in wire if t in steps]
    assert page.locator("#replay .step-tool_call .took").count() == 2  # each tool's duration
    calls = page.locator("table.calls tr").count() - 1
    assert calls == 3  # triage twice, billing once: one row per model call
    assert "$" in page.inner_text("table.agents")  # priced in the config
    assert page.locator(f".run-list tr[data-run='{run_id}']").count() == 1
    conversation = studio.api("GET", f"/v1/runs/{run_id}").json()["conversation_id"]
    page.select_option("#filter-conversation", conversation)  # the list: its runs only
    expect(page.locator(".run-list tbody tr")).to_have_count(1)
    assert page.locator(f".run-list tr[data-run='{run_id}']").count() == 1
    page.click("#copy-curl")
    curl = page.inner_text("pre.curl")
    assert "/v1/chat/completions" in curl and "X-Conversation-Id: conv_" in curl
    screenshot(page, "runs")
    page.context.close()


def test_another_keys_runs_are_not_listed(browser: Any, studio: StudioServer) -> None:
    body = {"model": "writer", "messages": [{"role": "user", "content": "mine"}]}
    run_id = studio.api("POST", "/v1/chat/completions", json=body, key=KEY_A).headers["x-run-id"]
    mine = open_page(browser, studio, "runs")
    mine.wait_for_selector(f".run-list tr[data-run='{run_id}']")
    mine.context.close()
    other = open_page(browser, studio, "runs", key=KEY_B)
    other.wait_for_selector(".run-list .hint")
    assert "No runs yet" in other.inner_text(".run-list")
    other.evaluate(f"location.hash = '#/runs/{run_id}'")
    other.wait_for_selector("#run-detail .error")
    assert "not found" in other.inner_text("#run-detail")
    other.context.close()


def test_the_config_checker_shows_each_error_with_its_path(
    browser: Any, studio: StudioServer
) -> None:
    page = open_page(browser, studio, "config")
    page.wait_for_selector("#check-result .ok")
    loaded = page.inner_text("#loaded-config")
    assert "pipeline" in loaded and "********" in loaded and KEY_B not in loaded
    page.fill(
        "#config-editor",
        "models:\n  fake: {provider: demo}\nteams:\n  t:\n    agents:\n"
        "      - {name: a, model: missing}\n",
    )
    issue = page.locator("#check-result .issue .path")
    issue.first.wait_for()
    assert issue.first.inner_text() == "$.teams.t.agents[0].model"
    screenshot(page, "config")
    page.context.close()


def test_a_stream_cut_short_is_followed_again_from_its_last_event(
    browser: Any, studio: StudioServer, upstream: Upstream
) -> None:
    upstream.reset()
    words = "Every word arrives once, in order, though the first connection ends early."
    upstream.script({"text": words})
    page = open_page(browser, studio, "play/writer")
    cut: dict[str, int] = {}

    def cut_short(route: Any) -> None:
        # The whole answer is read, then only its first frames are handed to the page:
        # the page's stream ends without [DONE], as when a connection drops.
        response = route.fetch()
        body = response.body()
        frames = body.split(b"\n\n")
        kept = b"\n\n".join(frames[: len(frames) // 2]) + b"\n\n"
        cut["kept"] = len(frames) // 2
        route.fulfill(status=response.status, headers=response.headers, body=kept)

    page.route("**/v1/chat/completions", cut_short)
    page.fill("#prompt", "Tell me about streams")
    page.click("#send")
    page.wait_for_selector("#timeline .step-run_end")
    expect(page.locator("#send")).to_be_enabled()
    assert cut["kept"] > 2
    assert page.locator(".chat .msg.assistant .text").last.inner_text() == words
    assert page.locator("#timeline .step-agent_start").count() == 1
    assert page.locator("#timeline .step-agent_start .message").inner_text() == words
    assert page.locator("#timeline .step-run_end").count() == 1
    page.context.close()


def test_a_speaker_selection_shows_the_selectors_reason(
    browser: Any, studio: StudioServer, upstream: Upstream
) -> None:
    upstream.reset()
    upstream.script({"text": "chemist"}, {"text": "Tannins make it bitter."})
    page = open_page(browser, studio, "play/panel")
    page.fill("#prompt", "Why is tea bitter?")
    page.click("#send")
    page.wait_for_selector("#timeline .step-run_end")
    selected = page.locator("#timeline .step-speaker_selected")
    assert selected.get_attribute("data-agent") == "chemist"
    assert selected.locator(".reason").inner_text() == "selected by the model"
    page.context.close()


def test_code_waits_for_the_approve_button_then_runs_with_its_output(
    browser: Any, studio: StudioServer, upstream: Upstream
) -> None:
    upstream.reset()
    code = "```python\nprint('hello from the sandbox')\n```"
    upstream.script({"text": f"Here it is:\n{code}"})
    page = open_page(browser, studio, "play/coder")
    page.fill("#prompt", "Say hello in Python")
    page.click("#send")
    approve = page.locator("#timeline .step-input_requested button.approve")
    approve.wait_for()
    assert page.locator("#timeline .step-code_execution").count() == 0  # nothing ran yet
    approve.click()
    result = page.locator("#timeline .step-code_execution .result:not(.pending)")
    result.wait_for()
    assert "hello from the sandbox" in result.inner_text()
    assert result.locator(".label").text_content() == "exit 0"
    assert page.locator("#timeline .step-code_execution").get_attribute("data-agent") == "runner"
    page.context.close()
