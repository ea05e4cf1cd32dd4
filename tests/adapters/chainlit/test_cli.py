"""``troupe chainlit``: listed without Chainlit loaded, and a clear word when it is missing."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys

import pytest

from troupe.adapters.chainlit import _cli


def test_troupe_lists_the_command_without_importing_chainlit() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from troupe.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    main(['--help'])\n"
        "assert 'chainlit' in out.getvalue(), out.getvalue()\n"
        "assert 'chainlit' not in sys.modules, 'troupe --help imported Chainlit'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_command_says_how_to_install_chainlit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "chainlit" else real(name, *a)
    )
    parser = argparse.ArgumentParser()
    _cli.register(parser.add_subparsers())
    args = parser.parse_args(["chainlit", "--server", "http://127.0.0.1:9"])
    assert args.func(args) == 2
    assert 'pip install "troupe-server[chainlit]"' in capsys.readouterr().err
