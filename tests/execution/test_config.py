"""The executors: section and the agents that use it, from YAML to running objects."""

from __future__ import annotations

import pytest

from troupe.agents import CodeAssistantAgent, CodeExecutorAgent
from troupe.config import build_teams, read_config, read_teams
from troupe.errors import ConfigError
from troupe.execution import DockerExecutor, LocalExecutor

BASE = """
models:
  m: {provider: demo}
"""


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        read_teams(text)
    return [f"{i.path}: {i.message}" for i in caught.value.issues]


def test_executors_build_into_agents_and_tools() -> None:
    spec = read_config(
        BASE
        + """
executors:
  sandbox: {image: troupe-sandbox, timeout: 10, memory: 128m, cpus: 0.5, pids: 32,
            approval: always, max_output: 2000, docker_host: "tcp://10.0.0.5:2375"}
  here: {kind: local, enabled: true, timeout: 5}
teams:
  t:
    agents:
      - {name: helper, model: m, code_executor: sandbox}
      - {name: runner, kind: code_executor, executor: here}
      - {name: coder, kind: code_executor, executor: sandbox, model: m, max_retries: 1}
"""
    )
    helper, runner, coder = build_teams(spec)["t"].agents
    assert isinstance(helper, CodeAssistantAgent) and "run_code" in helper.tools
    sandbox = helper.executor
    assert isinstance(sandbox, DockerExecutor)
    assert (sandbox.timeout, sandbox.memory, sandbox.cpus, sandbox.pids) == (10, "128m", 0.5, 32)
    assert (sandbox.network, sandbox.approval, sandbox.max_output) == ("none", "always", 2000)
    assert sandbox.docker_host == "tcp://10.0.0.5:2375"
    assert isinstance(runner, CodeExecutorAgent) and runner.model is None
    assert isinstance(runner.executor, LocalExecutor) and runner.executor.timeout == 5
    assert isinstance(coder, CodeExecutorAgent) and coder.max_retries == 1
    assert coder.executor is sandbox  # one executor object per config entry


def test_unknown_executor_names_are_errors_with_paths() -> None:
    found = issues(
        BASE
        + """
executors:
  sandbox: {kind: docker}
teams:
  t:
    agents:
      - {name: helper, model: m, code_executor: sandbx}
      - {name: runner, kind: code_executor}
"""
    )
    assert found == [
        "$.teams.t.agents[1].executor: required field missing (kind code_executor needs it)",
        "$.teams.t.agents[0].code_executor: unknown executor 'sandbx' "
        "(did you mean 'sandbox'?); executors: sandbox",
    ]


def test_the_local_executor_must_be_enabled() -> None:
    found = issues(
        BASE
        + """
executors:
  here: {kind: local}
teams:
  t:
    agents: [{name: runner, kind: code_executor, executor: here}]
"""
    )
    assert len(found) == 1
    assert found[0].startswith("$.executors.here.enabled: the local executor 'here' runs code")


def test_bad_executor_fields_are_reported_with_their_path() -> None:
    with pytest.raises(ConfigError) as caught:
        read_config("executors:\n  s: {kind: docker, memory: lots, timout: 3}\nteams: {}")
    paths = [i.path for i in caught.value.issues]
    assert paths and all(p.startswith("$.executors.s") for p in paths)
