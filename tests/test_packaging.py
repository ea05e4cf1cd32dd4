"""The distribution's name and extras, and the install commands we tell people to run."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# ``troupe`` on PyPI is someone else's project: ours is published under this name.
DIST = "troupe-server"


def test_the_distribution_has_a_name_of_its_own_and_the_command_stays_troupe() -> None:
    assert PYPROJECT["project"]["name"] == DIST
    assert PYPROJECT["project"]["scripts"] == {"troupe": "troupe.cli:main"}
    assert PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/troupe"]


def test_all_means_every_extra() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    (everything,) = extras["all"]
    match = re.fullmatch(rf"{DIST}\[(.*)\]", everything)
    assert match is not None
    assert set(match.group(1).split(",")) == set(extras) - {"all"}


def _texts() -> list[tuple[Path, str]]:
    files = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "examples").rglob("*")]
    files += [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    return [
        (f, f.read_text()) for f in files if f.is_file() and f.suffix in {".md", ".py", ".yaml"}
    ]


def test_no_doc_or_message_tells_people_to_install_someone_elses_troupe() -> None:
    wrong = re.compile(r"""pip install\s+["']?troupe(?![-\w])|(?<![-\w])troupe\[(?!\{)""")
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path, text in _texts()
        if path != Path(__file__)
        for match in wrong.finditer(text)
    ]
    assert found == []
