"""A browser's own ``EventSource`` follows a run and, when its connection is cut, reconnects
with ``Last-Event-ID`` unchanged: every frame once, in order (headless Chromium)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import browser
from tests.e2e.conftest import Upstream, stop
from tests.e2e.cutting_proxy import cutting_proxy
from tests.e2e.runs_support import Serve, paced_upstream

pytestmark = pytest.mark.e2e
__all__ = ["browser"]

WORDS = "Every frame arrives once and in order, even when the connection is cut. " * 2
PAGE = """<!doctype html><title>follow</title><script>
const got = []; window.got = got; window.done = false;
const source = new EventSource(%r);
source.onmessage = (e) => {
  got.push([e.lastEventId, e.data]);
  if (e.data === "[DONE]") { source.close(); window.done = true; }
};
</script>"""


@pytest.fixture(scope="module")
def paced() -> Iterator[Upstream]:
    upstream, proc = paced_upstream(0.03)
    yield upstream
    stop(proc)


class _Page(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        return None


def test_event_source_reconnects_with_last_event_id(
    tmp_path: Path, paced: Upstream, browser: Any
) -> None:
    page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    origin = f"http://127.0.0.1:{page_server.server_address[1]}"
    threading.Thread(target=page_server.serve_forever, daemon=True).start()
    # No API keys (an EventSource sends no headers of its own) and the page's origin allowed.
    serve = Serve(tmp_path, paced, server=f'cors_origins: ["{origin}"]', keys=False)
    try:
        with serve.stream(
            "POST",
            "/chat/completions",
            json={
                "model": "writer",
                "messages": [{"role": "user", "content": WORDS}],
                "stream": True,
                "background": True,
            },
        ) as response:
            run_id = response.headers["x-run-id"]
        with cutting_proxy(("127.0.0.1", serve.port)) as proxy:
            proxy.cut_next(after=2000)  # the first connection is cut mid-stream
            _Page.body = (PAGE % f"http://127.0.0.1:{proxy.port}/v1/runs/{run_id}/stream").encode()
            context = browser.new_context()
            page = context.new_page()
            page.goto(origin)
            page.wait_for_function("window.done === true", timeout=30_000)
            got = page.evaluate("window.got")
            context.close()
            assert proxy.cut == 1
        ids = [int(event_id) for event_id, _ in got]
        assert ids == list(range(1, len(ids) + 1))  # reconnected after the last id it had
        _, frames, _ = serve.replay(run_id)
        assert [data for _, data in got] == [f.data for f in frames]
    finally:
        serve.stop()
        page_server.shutdown()
        page_server.server_close()
