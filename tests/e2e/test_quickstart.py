"""The README's first command: `troupe serve` with the bundled teams, offline, no key."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import httpx2
import openai
import pytest

from tests.e2e.conftest import free_port, start, stop

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "TROUPE_CONFIG", "TROUPE_API_KEYS")
    }
    proc = start(
        [
            sys.executable,
            "-m",
            "troupe.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        f"http://127.0.0.1:{port}/health",
        env=env,
        cwd=tmp_path_factory.mktemp("empty"),
        replace_env=True,
    )
    yield f"http://127.0.0.1:{port}"
    assert "Traceback" not in stop(proc)


def test_bundled_teams_answer_offline(bundled: str) -> None:
    with openai.OpenAI(base_url=f"{bundled}/v1", api_key="anything", max_retries=0) as client:
        assert sorted(m.id for m in client.models.list()) == ["assistant", "writers"]
        reply = client.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "What is 12*(3+4)?"}]
        )
        assert "84" in (reply.choices[0].message.content or "")
        stream = client.chat.completions.create(
            model="writers",
            messages=[{"role": "user", "content": "A haiku about tea"}],
            stream=True,
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("**writer:**") and "APPROVE" in text


def test_hostile_input_does_not_hurt_the_server(bundled: str) -> None:
    url = f"{bundled}/v1/chat/completions"
    with httpx2.Client(timeout=30) as http:
        assert http.post(url, content=b"\xff\xfe garbage").status_code == 400
        assert http.post(url, content=b"{" * 100_000).status_code == 400
        huge = (
            b'{"model":"assistant","messages":[{"role":"user","content":"'
            + b"x" * (10 << 20)
            + b'"}]}'
        )
        assert http.post(url, content=huge).status_code == 413
        deep = {
            "model": "assistant",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}] * 5000}],
        }
        assert http.post(url, json=deep).status_code == 200
        weird_id = http.post(
            url,
            json={"model": "assistant", "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-conversation-id": "../../etc/passwd"},
        )
        assert weird_id.status_code == 400
        ok = http.post(
            url, json={"model": "assistant", "messages": [{"role": "user", "content": "2+2"}]}
        )
    assert ok.status_code == 200 and "4" in ok.json()["choices"][0]["message"]["content"]
