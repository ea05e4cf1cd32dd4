"""Several worker processes, one scrape: Prometheus's multiprocess mode."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import CONFIG, Upstream, stop, upstream
from tests.telemetry.servers import serve

__all__ = ["upstream"]

pytestmark = pytest.mark.e2e

METRICS = "\nserver:\n  metrics: {enabled: true}\n"


def test_a_scrape_of_one_worker_counts_the_runs_of_all(upstream: Upstream, tmp_path: Path) -> None:
    config = tmp_path / "teams.yaml"
    config.write_text(CONFIG.format(base_url=upstream.base_url) + METRICS)
    shared = tmp_path / "prometheus"
    shared.mkdir()
    workers = []
    try:
        for _ in range(2):
            env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "TROUPE_DATABASE_URL": "memory"}
            workers.append(serve(config, env))
        prompts = 0
        for url, _ in workers:
            answer = httpx2.post(
                f"{url}/v1/chat/completions",
                json={"model": "duo", "messages": [{"role": "user", "content": "hello there"}]},
                timeout=30,
            ).json()
            prompts += answer["usage"]["prompt_tokens"]
        scrape = httpx2.get(f"{workers[0][0]}/metrics", timeout=10).text
    finally:
        for _, proc in workers:
            stop(proc)

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scrape)
        for s in family.samples
    }
    runs = samples[("troupe_runs_total", (("outcome", "completed"), ("team", "duo")))]
    assert runs == 2
    prompt = sum(
        value
        for (name, labels), value in samples.items()
        if name == "troupe_tokens_total" and ("kind", "prompt") in labels
    )
    assert prompt == prompts > 0
