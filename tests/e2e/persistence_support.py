"""`troupe serve` processes that keep conversations in a database, for test_persistence."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx2
import openai

from tests.e2e.conftest import free_port, start, stop
from troupe.events import Event
from troupe.wire import StreamDecoder, events_from_completion

CONFIG = """
models:
  demo: {provider: demo}
teams:
  interview:
    description: A helper answers, then the human (a user proxy) has the word.
    kind: round_robin
    agents:
      - {name: helper, model: demo, system_message: Answer briefly.}
      - {name: you, kind: user_proxy, prompt: "Anything to add?"}
  support:
    kind: swarm
    agents:
      - {name: triage, model: demo, handoffs: [billing, refunds, user]}
      - {name: billing, model: demo, handoffs: [triage, user]}
      - {name: refunds, model: demo, handoffs: [triage, user]}
  worker:
    agents: [{name: worker, model: demo}]
    termination: {external: true}
    max_turns: 200
server:
  api_keys: [sk-one, sk-two]
"""


def write_config(directory: Path, server: str = "") -> Path:
    path = directory / "teams.yaml"
    path.write_text(CONFIG + "".join(f"  {line}\n" for line in server.splitlines() if line))
    return path


class Troupe:
    """One `troupe serve` process on a port of its own."""

    def __init__(self, config: Path, *, cwd: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.url}/v1"
        base = {k: v for k, v in os.environ.items() if not k.startswith("TROUPE_")}
        base.pop("OPENAI_API_KEY", None)
        self.proc = start(
            [
                sys.executable,
                "-m",
                "troupe.cli",
                "serve",
                "--config",
                str(config),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            f"{self.url}/health",
            env={**base, "TROUPE_BLOCK_REMOTE_MODELS": "1", **env},
            cwd=cwd,
            replace_env=True,
        )

    def client(self, key: str = "sk-one") -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0)

    def http(self, method: str, path: str, key: str = "sk-one", **kwargs: Any) -> httpx2.Response:
        headers = {"authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        return httpx2.request(
            method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs
        )

    def conversation(self, conversation_id: str, key: str = "sk-one") -> dict[str, Any]:
        response = self.http("GET", f"/conversations/{conversation_id}", key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def say(
        self, team: str, text: str, conversation_id: str | None = None, key: str = "sk-one"
    ) -> tuple[str, str, list[Event]]:
        """One streamed turn: (conversation id, answer text, events)."""
        headers = {"x-conversation-id": conversation_id} if conversation_id else {}
        with self.client(key) as client:
            stream = client.chat.completions.create(
                model=team,
                messages=[{"role": "user", "content": text}],
                stream=True,
                extra_headers=headers,
            )
            decoder = StreamDecoder()
            content: list[str] = []
            events: list[Event] = []
            with stream:
                cid = stream.response.headers["x-conversation-id"]
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        content.append(chunk.choices[0].delta.content)
                    events.extend(decoder.feed(chunk))
        return cid, "".join(content), events

    def complete(
        self, team: str, messages: list[dict[str, str]], key: str = "sk-one"
    ) -> tuple[str, str, list[Event]]:
        """One non-streamed turn with the whole history, as a plain client sends it."""
        with self.client(key) as client:
            raw = client.chat.completions.with_raw_response.create(model=team, messages=messages)
        completion = raw.parse()
        content = completion.choices[0].message.content or ""
        return raw.headers["x-conversation-id"], content, events_from_completion(completion)

    def stop(self) -> str:
        """Stop it as a supervisor would (SIGTERM); returns its stderr."""
        stderr = stop(self.proc)
        assert "Traceback" not in stderr, stderr
        return stderr

    def kill(self) -> None:
        """kill -9: no shutdown, no cleanup."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=15)
