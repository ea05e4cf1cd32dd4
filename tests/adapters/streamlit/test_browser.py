"""`troupe streamlit` served for real and used in headless Chromium, with a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from tests.adapters.real_teams import CODE
from tests.adapters.real_teams import TeamServer as TroupeServer
from tests.browser import CHROMIUM_ARGS
from tests.e2e.conftest import free_port, start, stop

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT = ROOT / "test-artifacts" / "streamlit.png"
DOCS_SCREENSHOT = ROOT / "docs" / "adapters" / "streamlit.png"


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Chromium is missing, and this test drives the app in a real browser: "
            "install it with `apt-get install -y chromium`."
        )
    return path


@pytest.fixture(scope="module")
def app_url(troupe_server: TroupeServer) -> Iterator[str]:
    port = free_port()
    proc = start(
        [
            *(sys.executable, "-m", "troupe.cli", "streamlit", "--server", troupe_server.url),
            *("--api-key", troupe_server.api_key, "--port", str(port)),
        ],
        f"http://127.0.0.1:{port}/_stcore/health",
    )
    yield f"http://127.0.0.1:{port}"
    stderr = stop(proc)
    assert "Traceback" not in stderr, stderr


def test_ask_a_team_in_the_browser_and_reload(app_url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.locator("label").filter(has_text="checked").first.click()
        # The chat input of the team just picked (each team has its own).
        question = page.get_by_placeholder("Message checked")
        question.fill("What is 12*(3+4)?")
        question.press("Enter")
        messages = page.get_by_test_id("stChatMessage")
        expect(messages.filter(has_text="APPROVE")).to_be_visible(timeout=20_000)
        expect(messages.nth(1)).to_contain_text("The calculator tool says: 84.")
        tool = messages.nth(1).get_by_test_id("stExpander")
        expect(tool).to_contain_text("calculator")
        expect(tool).to_contain_text("84")
        tool.locator("summary").click()  # open it: the arguments and the result
        codes = tool.get_by_test_id("stCode")
        arguments, result = codes.nth(0), codes.nth(1)
        expect(arguments).to_contain_text('"expression": "12*(3+4)"')
        expect(result).to_have_text("84")
        expect(result).to_be_in_viewport(ratio=1)  # the box has finished opening
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        if os.environ.get("TROUPE_UPDATE_DOCS_SCREENSHOTS"):
            shutil.copyfile(SCREENSHOT, DOCS_SCREENSHOT)

        # The URL names the team and its conversation: a reload comes back to both.
        assert "team=checked" in page.url and "chat-checked=conv_" in page.url
        page.reload()
        expect(messages.filter(has_text="APPROVE")).to_be_visible()
        expect(messages.first).to_contain_text("What is 12*(3+4)?")
        browser.close()


def pick(page: Page, team: str) -> Locator:
    """Choose ``team`` in the sidebar; its chat input."""
    page.get_by_test_id("stSidebar").locator("label").filter(has_text=team).first.click()
    return page.get_by_placeholder(f"Message {team}")


def test_parallel_branches_and_an_approval_in_the_browser(
    app_url: str, troupe_server: TroupeServer
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        messages = page.get_by_test_id("stChatMessage")

        question = pick(page, "pipeline")
        question.fill("An essay on tea")
        question.press("Enter")
        expect(messages).to_have_count(4, timeout=20_000)  # you, and one bubble per agent
        expect(page).to_have_url(re.compile(r"chat-pipeline=conv_"), timeout=20_000)
        conversation = page.url.split("chat-pipeline=")[1].split("&")[0]
        kept = dict(troupe_server.transcript(conversation))
        for index, agent in enumerate(["outliner", "intro_writer", "body_writer"], start=1):
            bubble = messages.nth(index)
            expect(bubble.locator("p").first).to_have_text(agent)
            expect(bubble.locator("p").nth(1)).to_have_text(kept[agent])
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT.with_name("streamlit-parallel.png")))

        question = pick(page, "coding")
        question.fill(CODE)
        question.press("Enter")
        approve = page.get_by_role("button", name="Approve")
        expect(approve).to_be_visible(timeout=20_000)
        expect(page.get_by_role("button", name="Reject")).to_be_visible()
        approve.click()
        expect(messages.filter(has_text="exit code 0")).to_have_count(1, timeout=20_000)
        # Sent as your answer: a bubble of its own (later messages may follow it).
        expect(messages.locator("p").filter(has_text=re.compile(r"^approve$"))).to_have_count(1)
        expect(approve).to_be_hidden()
        expect(page.get_by_placeholder("Message coding")).to_be_visible()  # nothing waits now
        page.screenshot(path=str(SCREENSHOT.with_name("streamlit-approval.png")))
        browser.close()
