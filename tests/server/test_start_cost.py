"""What a replica loads before it answers: the protocols' SDKs wait for their first request.

Run in a fresh interpreter (the test process has them all loaded already).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import sys
from troupe.server import create_app
app = create_app({config!r})
paths = {{route.path for route in app.routes}}
assert "/v1/a2a/{{team:str}}" in paths and "/v1/ag-ui/{{team:str}}" in paths, paths
print(" ".join(sorted(sys.modules)))
"""


def _loaded(code: str, cwd: Path) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd
    )
    return set(out.stdout.split())


def test_an_app_with_the_protocols_on_loads_their_sdks_only_when_asked(tmp_path: Path) -> None:
    pytest.importorskip("a2a")
    pytest.importorskip("ag_ui")
    config = tmp_path / "teams.yaml"
    config.write_text(
        "models:\n  m: {provider: demo}\n"
        "teams:\n  t:\n    agents: [{name: a, model: m}]\n"
        "server:\n  database_url: memory\n"
    )
    loaded = _loaded(SCRIPT.format(config=str(config)), tmp_path)
    assert "troupe" in loaded
    assert not loaded & {"a2a", "ag_ui", "google.protobuf"}


def test_troupe_serve_does_not_load_the_adapters(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom troupe import cli\n"
        "try:\n    cli.main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'troupe.adapters' not in sys.modules, 'adapters loaded'\n"
        "assert 'openai' not in sys.modules, 'openai loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, capture_output=True)
