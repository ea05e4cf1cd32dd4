"""Node clients against a real `troupe serve`: the openai npm package's Responses API and the
Vercel AI SDK's ``openai.responses(...)`` provider (installed from npm by scripts/node-clients)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.e2e.conftest import ROOT, Server, Upstream

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("npm") is None, reason="needs node and npm"),
]


def test_node_openai_and_the_vercel_ai_sdk_drive_a_team(server: Server, upstream: Upstream) -> None:
    upstream.reset()
    install = subprocess.run(
        ["bash", str(ROOT / "scripts" / "node-clients")],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    directory = install.stdout.strip().splitlines()[-1]
    run = subprocess.run(
        ["node", "clients.mjs"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "TROUPE_BASE_URL": server.base_url,
            "TROUPE_API_KEY": "sk-e2e",
            "TROUPE_TEAM": "solo",
        },
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["create"]["status"] == "completed"
    assert "hello from node" in seen["create"]["text"]
    stream = seen["stream"]
    assert stream["types"][0] == "response.created"
    assert stream["types"][-1] == "response.completed"
    assert stream["numbers"] == list(range(len(stream["numbers"])))
    assert "stream please" in stream["text"]
    assert seen["chained"]["previous"] == seen["create"]["id"]
    assert "and again" in seen["chained"]["text"]
    assert "hello from the ai sdk" in seen["aiSdk"]["text"]
    assert seen["aiSdk"]["finishReason"] == "stop"
