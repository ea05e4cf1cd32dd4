"""``troupe slack`` and the Slack app it needs: light to list, clear about what is missing."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import yaml

from tests.e2e.conftest import ROOT
from troupe.cli import main


def test_the_subcommand_loads_no_slack_code_until_it_runs() -> None:
    code = (
        "import sys, troupe.cli, troupe.adapters.slack._cli\n"
        "assert not [m for m in sys.modules if m.startswith(('slack_bolt', 'slack_sdk'))]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_names_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["slack", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "SLACK_APP_TOKEN" in out and "--channel CHANNEL_ID=TEAM" in out


def test_missing_secrets_are_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["slack", "--team", "support"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("troupe slack: the Slack adapter needs SLACK_BOT_TOKEN, ")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    assert main(["slack", "--team", "support", "--channel", "C1"]) == 2
    assert "'C1' is not CHANNEL_ID=team" in capsys.readouterr().err


def test_the_manifest_is_a_valid_slack_app_for_this_adapter() -> None:
    """``slack-app-manifest.yml`` has what the adapter needs, where Slack expects it."""
    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yml").read_text())
    assert manifest["display_information"]["name"]
    assert manifest["features"]["bot_user"]["display_name"]
    settings = manifest["settings"]
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    }
    assert {urlsplit(url).path for url in urls} == {"/slack/events"}
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/troupe"]
    events = set(settings["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels"} <= events
    assert {"chat:write", "assistant:write"} <= set(manifest["oauth_config"]["scopes"]["bot"])
