"""`troupe streamlit`: the command line it runs, and that `troupe` stays light."""

from __future__ import annotations

import argparse
import subprocess
import sys

from troupe.adapters.streamlit._cli import APP, register, streamlit_command


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["streamlit", *argv])


def test_settings_reach_streamlit_run_and_the_key_stays_off_the_command_line() -> None:
    args = parse("--server", "http://teams:8000", "--api-key", "sk-1", "--port", "8555")
    command, env = streamlit_command(args)
    assert command[1:5] == ["-m", "streamlit", "run", str(APP)]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8555"
    assert options["--server.headless"] == "true"
    assert (env["TROUPE_SERVER"], env["TROUPE_API_KEY"]) == ("http://teams:8000", "sk-1")
    assert "sk-1" not in command
    assert APP.is_file()


def test_the_troupe_command_lists_it_without_importing_streamlit() -> None:
    code = (
        "import sys\n"
        "from troupe.cli import main\n"
        "try:\n"
        "    main(['streamlit', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'streamlit' not in sys.modules, 'importing _cli imported streamlit'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "--api-key" in result.stdout and "--port" in result.stdout
