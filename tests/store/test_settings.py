"""Which store a server uses: the config's ``database_url``, the environment, the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from troupe.agents import AssistantAgent
from troupe.config import ServerSpec, read_config
from troupe.errors import ConfigError
from troupe.models import ScriptedModel
from troupe.server import TroupePlugin
from troupe.store import InMemoryConversationStore, SQLConversationStore
from troupe.teams import RoundRobinTeam

CONFIG = """
models:
  demo: {provider: demo}
teams:
  solo:
    agents: [{name: bot, model: demo}]
"""


@pytest.fixture(autouse=True)
def _no_database_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TROUPE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)


def plugin(tmp_path: Path, server: str = "") -> TroupePlugin:
    path = tmp_path / "teams.yaml"
    path.write_text(CONFIG + (f"server:\n{server}" if server else ""))
    return TroupePlugin.from_config(path)


def test_a_config_file_keeps_conversations_in_sqlite_under_the_working_directory(
    tmp_path: Path,
) -> None:
    store = plugin(tmp_path).store
    assert isinstance(store, SQLConversationStore)
    assert store.url.path == tmp_path / ".troupe" / "troupe.db"


def test_the_config_and_the_environment_choose_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = plugin(tmp_path, "  database_url: sqlite:///data/x.db\n  lease_seconds: 5\n").store
    assert isinstance(store, SQLConversationStore)
    assert store.url.path == tmp_path / "data" / "x.db" and store.lease_seconds == 5
    assert isinstance(plugin(tmp_path, "  database_url: memory\n").store, InMemoryConversationStore)
    monkeypatch.setenv("TROUPE_DATABASE_URL", "postgresql://u:pw@db.internal/troupe")
    store = plugin(tmp_path, "  database_url: memory\n").store
    assert isinstance(store, SQLConversationStore)
    assert store.url.display == "postgresql://u:***@db.internal/troupe"


def test_teams_built_in_python_keep_conversations_in_memory() -> None:
    solo = RoundRobinTeam("solo", [AssistantAgent("bot", ScriptedModel([]))])
    assert isinstance(TroupePlugin([solo]).store, InMemoryConversationStore)
    spec = ServerSpec(database_url="sqlite:///kept.db", conversation_ttl_seconds=60)
    store = TroupePlugin([solo], server=spec).store
    assert isinstance(store, SQLConversationStore) and store.ttl_seconds == 60


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@db/troupe", "unsupported database URL 'mysql://root@db/troupe'"),
        ("sqlite://relative.db", "not a SQLite URL with a path"),
        ("sqlite:///:memory:", "use 'memory'"),
    ],
)
def test_a_database_url_it_cannot_use_is_a_config_error(
    tmp_path: Path, url: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        plugin(tmp_path, f"  database_url: {url!r}\n")
    (issue,) = caught.value.issues
    assert issue.path == "$.server.database_url" and message in issue.message


@pytest.mark.parametrize(
    ("server", "error"),
    [
        (
            "{busy_policy: wait}",
            "$.server.busy_policy: invalid value 'wait'; expected one of: reject, enqueue",
        ),
        ("{lease_seconds: 0}", "$.server.lease_seconds: Expected `float` >= 1.0"),
        ("{max_transcript_bytes: 0}", "$.server.max_transcript_bytes: Expected `int` >= 1"),
        ("{conversation_ttl_seconds: -1}", "$.server.conversation_ttl_seconds: Expected"),
    ],
)
def test_server_settings_are_checked_with_their_path(server: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_config(f"server: {server}")
    assert error in str(caught.value)
