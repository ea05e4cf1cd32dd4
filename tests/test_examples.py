"""Every example runs as examples/README.md says, and its team ends by its own condition.

The commands are read from the README's tables and run as written (with a
free port instead of 8000), in the root of the repository, as a new user
would. ``EXPECTED`` says what each team does; the README and this table must
name the same examples, and every example file must be in them.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass

import openai
import pytest

from tests.e2e.conftest import ROOT, free_port, start, stop
from troupe.events import RunEnded
from troupe.wire import StreamDecoder

pytestmark = pytest.mark.e2e
EXAMPLES = ROOT / "examples"
_ROW = re.compile(
    r"^\| \[`(?P<name>[^`]+)`\]\((?P<link>[^)]+)\).*\| `(?P<command>uv run [^`]+)` \|$"
)


@dataclass(frozen=True)
class Expected:
    prefix: str  # where the OpenAI API is
    team: str
    # Each message of the conversation, and how the run it starts ends.
    turns: tuple[tuple[str, str], ...]


EXPECTED = {
    "writer_critic.yaml": Expected(
        "/v1",
        "review",
        (
            ("A slogan for tea", "input requested by you"),
            ("APPROVE", "text 'APPROVE' mentioned by you"),
        ),
    ),
    "research_selector.yaml": Expected(
        "/v1",
        "research",
        (("How many seconds are in 3 days? 3*24*3600", "text 'DONE' mentioned by writer"),),
    ),
    "support_swarm.yaml": Expected(
        "/v1",
        "support",
        (
            ("I want a refund for my order", "input requested by refunds"),
            ("Order 1234", "input requested by refunds"),
        ),
    ),
    "graph_pipeline.yaml": Expected("/v1", "pipeline", (("tea", "graph team finished"),)),
    "teams.yaml": Expected(
        "/v1", "writers", (("A haiku about tea", "text 'APPROVE' mentioned by critic"),)
    ),
    "python_team.py": Expected(
        "/v1", "editors", (("A note about tea", "text 'APPROVE' mentioned by reviewer"),)
    ),
    "embed_litestar.py": Expected(
        "/agents/v1", "writers", (("A haiku about tea", "text 'APPROVE' mentioned by critic"),)
    ),
    "mount_asgi.py": Expected(
        "/troupe/v1", "assistant", (("What is 6*7?", "text message from assistant"),)
    ),
}


def readme_commands() -> dict[str, str]:
    rows = (_ROW.match(line) for line in (EXAMPLES / "README.md").read_text().splitlines())
    commands = {}
    for row in rows:
        if row is not None:
            assert (EXAMPLES / row.group("link")).is_file(), row.group("link")
            commands[row.group("name")] = row.group("command")
    return commands


COMMANDS = readme_commands()


def test_the_readme_lists_every_example() -> None:
    files = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".py", ".yaml")} - {"__init__.py"}
    assert set(COMMANDS) == set(EXPECTED) == files | {"teams.yaml"}


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[str]:
    """The README's command for an example, running; yields its API's base URL."""
    name: str = request.param
    uv = shutil.which("uv")
    assert uv is not None, "the examples run with uv (pip install uv)"
    port = free_port()
    args = shlex.split(COMMANDS[name])
    if "--port" in args:
        args[args.index("--port") + 1] = str(port)
    else:
        args += ["--port", str(port)]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "TROUPE_CONFIG", "TROUPE_API_KEYS", "VIRTUAL_ENV")
    }
    # No pauses between the demo model's words; no database left in the clone.
    env |= {"TROUPE_DEMO_DELAY": "0", "TROUPE_DATABASE_URL": "memory"}
    base_url = f"http://127.0.0.1:{port}{EXPECTED[name].prefix}"
    proc = start([uv, *args[1:]], f"{base_url}/models", env, replace_env=True)
    yield base_url
    stderr = stop(proc)
    assert "Traceback" not in stderr, stderr


@pytest.mark.parametrize("served", sorted(EXPECTED), indirect=True)
def test_the_example_runs_as_its_readme_says(served: str, request: pytest.FixtureRequest) -> None:
    expected = EXPECTED[request.node.callspec.params["served"]]
    headers: dict[str, str] = {}
    with openai.OpenAI(base_url=served, api_key="none", max_retries=0) as client:
        assert expected.team in [m.id for m in client.models.list()]
        for message, stop_reason in expected.turns:
            stream = client.chat.completions.create(
                model=expected.team,
                messages=[{"role": "user", "content": message}],
                stream=True,
                extra_headers=headers,
            )
            decoder = StreamDecoder()
            with stream:
                headers = {"X-Conversation-Id": stream.response.headers["x-conversation-id"]}
                events = [event for chunk in stream for event in decoder.feed(chunk)]
            ends = [e for e in events if isinstance(e, RunEnded)]
            assert [e.stop_reason for e in ends] == [stop_reason], message


def test_what_the_examples_import_comes_with_uv_run() -> None:
    """`uv run` installs the dependencies and the dev group, not the extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = project["project"]["dependencies"] + project["dependency-groups"]["dev"]
    installed = {re.split(r"[\[<>=~ ]", req)[0].lower() for req in wanted}
    owners = importlib.metadata.packages_distributions()
    missing = set()
    for example in EXAMPLES.glob("*.py"):
        for module in re.findall(r"^(?:from|import) (\w+)", example.read_text(), re.MULTILINE):
            if module in sys.stdlib_module_names or module in ("troupe", "examples"):
                continue
            dists = {d.lower() for d in owners.get(module, [module])}
            if not dists & installed:
                missing.add(f"{example.name}: {module}")
    assert missing == set()
