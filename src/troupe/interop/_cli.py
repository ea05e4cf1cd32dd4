"""``troupe import autogen`` and ``troupe export``: their arguments and what they print."""

from __future__ import annotations

__all__ = ["register"]

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from troupe.errors import ConfigError


def _import_autogen(args: argparse.Namespace) -> int:
    from troupe.config import read_teams
    from troupe.interop.autogen_import import import_autogen

    source = Path(args.file)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        print(f"troupe import autogen: cannot read {source}: {err}", file=sys.stderr)
        return 1
    out = Path(args.output) if args.output else None
    folder = out.parent if out else Path.cwd()
    stem = re.sub(r"\W", "_", out.stem if out else "autogen") + "_tools"
    result = import_autogen(data, name=args.name, tools_module=stem)
    if result.tools_source is not None:
        tools = folder / f"{stem}.py"
        tools.write_text(result.tools_source, encoding="utf-8")
        print(f"wrote {tools} (the team's tool functions: review them)", file=sys.stderr)
    text = result.yaml()
    if out:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}: team(s) {', '.join(result.teams)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    for item in result.not_carried:
        print(f"not carried over: {item}", file=sys.stderr)
    try:  # what ``troupe check`` says, with the API keys' variables set to anything
        env = dict.fromkeys(re.findall(r"\$\{([A-Za-z_]\w*)\}", text), "set")
        read_teams(text, env=env, source=str(out or "<stdout>"), base_dir=folder.resolve())
    except ConfigError as err:
        print(f"the imported config does not check: {err}", file=sys.stderr)
        return 1
    return 0


def _export(args: argparse.Namespace) -> int:
    from troupe.interop.export import export_teams

    if str(Path.cwd()) not in sys.path:  # the user's package, as ``python -m`` finds it
        sys.path.insert(0, str(Path.cwd()))
    try:
        text = export_teams(args.team)
    except (ValueError, ConfigError) as err:
        print(f"troupe export: {err}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(commands: Any) -> None:
    """Add ``import`` (with ``autogen``) and ``export`` to the ``troupe`` command."""
    group = commands.add_parser("import", help="import a team from another framework")
    sources = group.add_subparsers(dest="import_source", required=True)
    autogen = sources.add_parser(
        "autogen", help="an AutoGen AgentChat team (dump_component JSON, AutoGen Studio export)"
    )
    autogen.add_argument("file", help="the team's component JSON")
    autogen.add_argument("-o", "--output", help="write the YAML here (default: stdout)")
    autogen.add_argument("--name", help="the team's name in teams: (default: its own name)")
    autogen.set_defaults(func=_import_autogen)

    export = commands.add_parser("export", help="write a team defined in Python as YAML")
    export.add_argument(
        "team", help="import path of a Team (or a list of teams): package.module:name"
    )
    export.add_argument("-o", "--output", help="write the YAML here (default: stdout)")
    export.set_defaults(func=_export)
