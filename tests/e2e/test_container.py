"""The Dockerfile built and run for real; compose.yaml and the nginx config checked.

No image can be pulled here: the base is a stand-in made offline
(scripts/build-python-base) and the wheels come from the host, so the build
itself needs no network. The first build takes minutes (layers are cached).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx2
import pytest
import yaml

from tests.e2e.conftest import ROOT, free_port

IMAGE = "troupe-test-image"
BASE = "troupe-python-base"
EXTRAS = ("postgres", "anthropic", "ollama")


def docker(*args: str, timeout: float = 900) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"docker {' '.join(args)}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    )
    return done.stdout


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def _wheelhouse(context: Path) -> None:
    """troupe's wheel and its dependencies' for the base's Python (3.11), from the host."""
    wheels = context / "wheels"
    subprocess.run(["uv", "build", "--wheel", "-q", "-o", str(wheels)], cwd=ROOT, check=True)
    extras = [arg for extra in EXTRAS for arg in ("--extra", extra)]
    requirements = subprocess.run(
        ["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "-q", *extras],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (context / "requirements.txt").write_text(requirements)
    platforms = ["manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64"]
    subprocess.run(
        [
            "uvx",
            "pip",
            "download",
            "-q",
            "-r",
            str(context / "requirements.txt"),
            "-d",
            str(wheels),
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            *[arg for p in platforms for arg in ("--platform", p)],
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not _docker_available():
        if os.environ.get("CI"):
            pytest.fail("no Docker engine: run scripts/docker-engine")
        pytest.skip("no Docker engine (scripts/docker-engine starts one)")
    subprocess.run(["bash", str(ROOT / "scripts" / "build-python-base"), BASE], check=True)
    context = tmp_path_factory.mktemp("image")
    for name in ("pyproject.toml", "README.md", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__"))
    _wheelhouse(context)
    docker("build", "-q", "--build-arg", f"BASE={BASE}", "-t", IMAGE, str(context), timeout=1500)
    return IMAGE


# Building the image (in the fixture) counts against the test's time: a cold build of the
# offline base and the wheelhouse takes minutes on a busy machine.
@pytest.mark.timeout(1800)
def test_image_serves_the_demo_teams_as_a_non_root_user(image: str) -> None:
    port = free_port()
    # The engine here has no bridge network: the container shares the host's.
    container = docker("run", "-d", "--network", "host", "-e", f"TROUPE_PORT={port}", image).strip()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        health = ""
        while time.monotonic() < deadline:
            health = docker("inspect", "-f", "{{.State.Health.Status}}", container).strip()
            if health == "healthy":
                break
            time.sleep(1)
        assert health == "healthy", docker("logs", container)
        answer = httpx2.post(
            f"{url}/v1/chat/completions",
            json={"model": "assistant", "messages": [{"role": "user", "content": "What is 2+2?"}]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"]
        assert docker("exec", container, "id", "-u").strip() == "10001"
        config = json.loads(docker("inspect", image))[0]["Config"]
        assert config["Entrypoint"] == ["troupe", "serve"]
        assert set(config["Volumes"]) == {"/config", "/data"}
        # Logs are JSON lines in the container.
        logs = subprocess.run(
            ["docker", "logs", container], capture_output=True, text=True, check=False
        ).stderr
        assert all(json.loads(line)["level"] for line in logs.splitlines() if line.strip())
    finally:
        docker("rm", "-f", container)


def test_compose_runs_two_replicas_on_postgres_behind_nginx() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"troupe-1", "troupe-2", "postgres", "nginx"} <= set(services)
    for name in ("troupe-1", "troupe-2"):
        env = services[name]["environment"]
        assert env["TROUPE_DATABASE_URL"].startswith("postgresql://")
        assert services[name]["build"] == "."
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    for directive in (
        "proxy_buffering off",
        "proxy_read_timeout 3600s",
        "server troupe-1:8000",
        "server troupe-2:8000",
    ):
        assert directive in nginx
    mounted = services["nginx"]["volumes"][0].split(":")[0]
    assert (ROOT / mounted).resolve() == (ROOT / "deploy" / "nginx.conf").resolve()
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        subprocess.run(
            ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"], check=True
        )
