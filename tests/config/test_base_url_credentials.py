"""A ``base_url`` with ``user:password@`` is a config error (the clients would not send it, so
every request would fail), reported at its path without ever printing the password."""

from __future__ import annotations

from pathlib import Path

import pytest

from troupe.cli import main

CONFIG = """
models:
  inner: {{provider: openai, model: x, base_url: "{url}", api_key: none}}
teams:
  t:
    agents: [{{name: a, model: inner}}]
"""


@pytest.mark.parametrize(
    "url",
    [
        "http://bob:hunter2-secret@10.0.0.5:8101/v1",
        "https://:hunter2-secret@llm.internal/v1",
        "http://hunter2-secret@llm.internal/v1",
    ],
)
def test_troupe_check_refuses_credentials_in_base_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    config = tmp_path / "teams.yaml"
    config.write_text(CONFIG.format(url=url))
    assert main(["check", str(config)]) == 1
    out = capsys.readouterr()
    assert "$.models.inner.base_url: holds a user name or password" in out.err
    assert "api_key" in out.err
    assert "hunter2" not in out.err + out.out


def test_a_plain_base_url_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "teams.yaml"
    config.write_text(CONFIG.format(url="http://10.0.0.5:8101/v1"))
    assert main(["check", str(config)]) == 0
