"""Health probes and request ids, as an orchestrator and an operator see them."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import app_for
from tests.server.test_errors import echo_team
from troupe.server import create_app
from troupe.store import SQLConversationStore, StoreError

pytestmark = pytest.mark.anyio


async def test_live_and_ready_need_no_key(raw_client: Any) -> None:
    client = await raw_client(app_for(echo_team(), api_keys=["sk-only-key"]))
    live = await client.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    old = await client.get("/health")
    assert old.status_code == 200 and old.json()["teams"] == 1


async def test_ready_is_503_while_the_store_schema_is_not_this_version(
    raw_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "troupe.db"
    store = SQLConversationStore(f"sqlite:///{path}")
    await store.open()
    try:
        client = await raw_client(create_app(teams=[echo_team()], store=store))
        assert (await client.get("/health/ready")).status_code == 200
        with sqlite3.connect(path) as db:
            (revision,) = db.execute("SELECT version_num FROM troupe_alembic_version").fetchone()
            db.execute("UPDATE troupe_alembic_version SET version_num = 'older'")
        with caplog.at_level(logging.WARNING, logger="troupe.server"):
            for _ in range(3):
                not_ready = await client.get("/health/ready")
                assert not_ready.status_code == 503
                assert not_ready.json() == {"status": "not_ready"}
        # The reason is logged once, when readiness changes.
        reasons = [r.getMessage() for r in caplog.records if "not ready" in r.getMessage()]
        assert len(reasons) == 1 and "'older'" in reasons[0]
        assert (await client.get("/health/live")).status_code == 200
        with sqlite3.connect(path) as db:
            db.execute("UPDATE troupe_alembic_version SET version_num = ?", (revision,))
        assert (await client.get("/health/ready")).status_code == 200
    finally:
        await store.close()


async def test_ready_is_503_when_the_database_is_out_of_reach(
    raw_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLConversationStore(f"sqlite:///{tmp_path / 'troupe.db'}")
    client = await raw_client(create_app(teams=[echo_team()], store=store))
    assert (await client.get("/health/ready")).status_code == 200

    async def gone() -> None:
        raise StoreError("the conversation store is unavailable: connection refused")

    monkeypatch.setattr(store, "check_ready", gone)  # the database went away meanwhile
    assert (await client.get("/health/ready")).status_code == 503
    assert (await client.get("/health/live")).status_code == 200


async def test_every_response_has_a_request_id(raw_client: Any) -> None:
    client = await raw_client(app_for(echo_team()))
    ok = await client.post(
        "/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "x"}]},
    )
    bad = await client.post("/v1/chat/completions", content=b"{")
    ids = {ok.headers["x-request-id"], bad.headers["x-request-id"]}
    assert len(ids) == 2 and all(i.startswith("req_") for i in ids)
    # A gateway's id is kept; one that is not a plain token is replaced.
    kept = await client.get("/v1/models", headers={"x-request-id": "gw-7f3a.1"})
    assert kept.headers["x-request-id"] == "gw-7f3a.1"
    odd = await client.get("/v1/models", headers={"x-request-id": "a b<script>"})
    assert odd.headers["x-request-id"].startswith("req_")
