"""The Chainlit app in a real headless Chromium, against a real ``troupe serve``.

Two real processes (``troupe serve`` with teams on the offline demo model, and
``troupe chainlit``), driven through the page the way a person uses it. The
screenshots land in ``test-artifacts/chainlit/``; with
``TROUPE_UPDATE_DOCS_SCREENSHOTS=1`` the first one also replaces ``docs/adapters/chainlit.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.adapters import real_teams
from tests.browser import CHROMIUM_ARGS
from tests.e2e.conftest import ROOT, free_port, wait_http

pytestmark = pytest.mark.e2e

KEY = "sk-chainlit-e2e"
ARTIFACTS = ROOT / "test-artifacts" / "chainlit"
DOC_SCREENSHOT = ROOT / "docs" / "adapters" / "chainlit.png"
# The demo model calls `current_time` when asked the time; the test's own tool
# of that name waits until the run is cancelled and writes down that it was.
# Beside these, the graph, swarm, user-proxy and approval teams of real_teams.
TEAMS = """
  assistant:
    description: One assistant with a calculator and a (slow) clock.
    agents:
      - name: assistant
        model: demo
        tools:
          - troupe.tools.builtin:calculator
          - tests.adapters.slow_tools:current_time
        max_tool_iterations: 2
  writers:
    description: A writer drafts, a critic reviews.
    agents:
      - {name: writer, model: demo, system_message: You are a writer.}
      - {name: critic, model: demo, system_message: You are a critic. Review the draft.}
    termination: {max_messages: 3}"""


class Running:
    def __init__(self, url: str, cancelled: Path) -> None:
        self.url = url
        self.cancelled = cancelled


class Process:
    """A process the tests start, its output in a log file."""

    def __init__(self, log: Path, *args: str, env: dict[str, str]) -> None:
        self.log = log
        full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "troupe.cli", *args],
                cwd=ROOT,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def ready(self, health: str) -> None:
        try:
            # Chainlit takes seconds to import, many more on a busy machine.
            wait_http(health, self.proc, timeout=120)
        except Exception:
            raise RuntimeError(f"{health} not ready:\n{self.stop()}") from None

    def stop(self) -> str:
        """Stop the process; returns its output."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("chainlit")
    config = tmp / "teams.yaml"
    config.write_text(real_teams.config(TEAMS))
    cancelled = tmp / "cancelled"
    server_port, app_port = free_port(), free_port()
    server_url = f"http://127.0.0.1:{server_port}"
    # Both start at once: the app asks the server for its teams only when a page loads.
    server = Process(
        tmp / "serve.log",
        *("serve", "--config", str(config), "--port", str(server_port), "--log-level", "warning"),
        env={"TROUPE_API_KEYS": KEY, "TROUPE_TEST_CANCELLED_FILE": str(cancelled)},
    )
    chainlit = Process(
        tmp / "chainlit.log",
        *("chainlit", "--server", server_url, "--port", str(app_port)),
        *("--app-root", str(tmp / "app")),
        env={"TROUPE_API_KEY": KEY},
    )
    try:
        server.ready(f"{server_url}/health")
        chainlit.ready(f"http://127.0.0.1:{app_port}/")
    except Exception:
        server.stop()
        chainlit.stop()
        raise
    yield Running(f"http://127.0.0.1:{app_port}", cancelled)
    app_output, server_output = chainlit.stop(), server.stop()
    assert "Traceback" not in app_output, app_output
    assert "Traceback" not in server_output, server_output


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "Chromium is not installed; the browser tests need Debian's package: "
            "apt-get install -y chromium"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, app: Running) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(app.url)
    yield page
    context.close()


def send(page: Page, text: str) -> None:
    """Type a message and send it, once the app is connected and idle."""
    page.locator("#chat-input").fill(text)
    submit = page.locator("#chat-submit")
    expect(submit).to_be_enabled()  # disabled until the socket is up and the last turn is over
    submit.click()


def choose_team(page: Page, team: str) -> None:
    page.locator("#chat-profiles").click()
    page.get_by_role("option", name=team).click()
    expect(page.locator("#chat-profiles")).to_contain_text(team)


def answers(page: Page) -> list[str]:
    return page.locator("[data-step-type=assistant_message]").all_inner_texts()


def screenshot(page: Page, name: str) -> Path:
    """Save the chat, scrolled to its start, as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(550, 400)
    page.mouse.wheel(0, -10_000)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, animations="disabled")
    return path


def test_a_team_streams_its_answer_below_its_tool_step(page: Page) -> None:
    # Every text the answer shows on its way, to see it grow token by token.
    page.evaluate(
        """() => {
          window.seen = [];
          new MutationObserver(() => {
            const all = document.querySelectorAll('[data-step-type=assistant_message]');
            if (all.length) window.seen.push(all[all.length - 1].innerText.trim());
          }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    send(page, "What is 6*7?")
    step = page.locator("#step-calculator")
    expect(step).to_have_text("Used calculator")
    final = "The calculator tool says: 42."
    expect(page.get_by_text(final)).to_be_visible()
    partial = {text for text in page.evaluate("window.seen") if text and text != final}
    assert any(final.startswith(text) for text in partial), f"no partial answer seen: {partial}"

    step.click()
    tool = page.locator("[data-step-type=tool]")
    expect(tool).to_contain_text('"expression": "6*7"')
    expect(tool).to_contain_text("42")
    path = screenshot(page, "tool-step")
    if os.environ.get("TROUPE_UPDATE_DOCS_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOC_SCREENSHOT)


def test_several_agents_answer_under_their_names(page: Page) -> None:
    choose_team(page, "writers")
    send(page, "Write a haiku about tea")
    expect(page.get_by_text("Clear and to the point. APPROVE")).to_be_visible()
    writer, critic = answers(page)
    assert writer.startswith("writer: This is the offline demo model answering “Write a haiku")
    assert critic == "critic: Clear and to the point. APPROVE"
    screenshot(page, "speakers")


def test_the_team_asks_and_the_reply_continues_the_conversation(page: Page) -> None:
    choose_team(page, "booking")
    send(page, "Book a table for tonight")
    question = page.get_by_text("How many people are coming?")
    expect(question).to_be_visible()
    send(page, "4")
    # The host answers the same conversation: a new one would start over with "4".
    expect(page.get_by_text(re.compile("Here is another thought on “Book a table"))).to_be_visible()
    expect(question).to_have_count(2)  # and the team, round again, asks again
    screenshot(page, "human-input")


def test_stop_stops_the_run_on_the_server(app: Running, page: Page) -> None:
    send(page, "What time is it?")
    expect(page.locator("#step-current_time")).to_have_text("Using current_time")
    page.locator("#stop-button").click()
    expect(page.get_by_text("Task manually stopped.")).to_be_visible()
    deadline = time.monotonic() + 10
    while not app.cancelled.exists():
        assert time.monotonic() < deadline, "the server did not cancel the tool"
        time.sleep(0.05)
    page.locator("#step-current_time").click()
    expect(page.get_by_text("Stopped before the tool returned.")).to_be_visible()

    send(page, "What is 2+3?")
    expect(page.get_by_text("The calculator tool says: 5.")).to_be_visible()
    screenshot(page, "stopped")


def test_parallel_branches_are_one_message_each(page: Page) -> None:
    choose_team(page, "pipeline")
    send(page, "An essay on tea")
    expect(page.locator("[data-step-type=assistant_message]")).to_have_count(3, timeout=30_000)
    expect(page.locator("#stop-button")).to_have_count(0, timeout=30_000)  # the turn is over
    outliner, intro, body = answers(page)
    for text, agent in ((outliner, "outliner"), (intro, "intro_writer"), (body, "body_writer")):
        assert text.startswith(f"{agent}: This is the offline demo model answering")
        assert text.count("offline demo model") == 1  # whole, and only its own words
    screenshot(page, "parallel")


def test_approve_is_a_button(page: Page) -> None:
    choose_team(page, "coding")
    send(page, real_teams.CODE)
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Reject")).to_be_visible()
    approve.click()
    expect(page.locator("[data-step-type=user_message]").last).to_contain_text("approve")
    expect(page.get_by_text("exit code 0")).to_be_visible(timeout=30_000)
    expect(approve).to_have_count(0)  # answered: the buttons are gone
    screenshot(page, "approval")
