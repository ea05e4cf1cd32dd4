"""Conversations that last: real `troupe serve` processes on SQLite and PostgreSQL.

Restarts, two replicas on one database, kill -9 in the middle of a stream,
and the ids a client may not use.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from tests.e2e.persistence_support import Troupe, write_config
from tests.store.postgres import postgres_database
from troupe.events import AgentStarted, InputRequested, RunEnded, TextDelta
from troupe.wire import StreamDecoder

pytestmark = pytest.mark.e2e


def started(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.agent for e in events if isinstance(e, AgentStarted)]


def run_end(events: list) -> RunEnded:  # type: ignore[type-arg]
    (end,) = [e for e in events if isinstance(e, RunEnded)]
    return end


def test_a_paused_run_and_a_swarms_speaker_survive_a_restart(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    env = {"TROUPE_DEMO_DELAY": "0"}
    first = Troupe(config, cwd=tmp_path, env=env)
    try:
        interview, _, events = first.say("interview", "Tell me about green tea")
        assert started(events) == ["helper"]
        assert [e.agent for e in events if isinstance(e, InputRequested)] == ["you"]
        assert run_end(events).stop_reason == "input requested by you"
        support, _, events = first.say("support", "I want a refund for my order")
        assert started(events) == ["triage", "refunds"]
        plain = [{"role": "user", "content": "What is 6*7?"}]
        plain_id, answer, _ = first.complete("interview", plain)
    finally:
        first.stop()
    # No database settings: an SQLite file under the working directory.
    assert (tmp_path / ".troupe" / "troupe.db").is_file()

    second = Troupe(config, cwd=tmp_path, env=env)
    try:
        # The human's answer resumes the paused run: the proxy's message, then the helper.
        cid, _, events = second.say("interview", "Mostly sencha", interview)
        assert cid == interview
        assert started(events) == ["helper"]
        assert run_end(events).stop_reason == "input requested by you"
        transcript = second.conversation(interview)["transcript"]
        assert [(m["source"], m["content"]) for m in transcript][::2] == [
            ("user", "Tell me about green tea"),
            ("you", "Mostly sencha"),
        ]
        assert [m["source"] for m in transcript] == ["user", "helper", "you", "helper"]
        # The swarm's floor is where it was: refunds answers.
        _, _, events = second.say("support", "Order 1234", support)
        assert started(events) == ["refunds"]
        # A plain client resending its history finds its conversation in the new process.
        history = [*plain, {"role": "assistant", "content": answer}]
        again, _, _ = second.complete("interview", [*history, {"role": "user", "content": "ok"}])
        assert again == plain_id
    finally:
        second.stop()


def test_kill_9_mid_stream_leaves_the_conversation_as_it_was(tmp_path: Path) -> None:
    database = tmp_path / "conversations.db"
    config = write_config(tmp_path, "lease_seconds: 1\nbusy_policy: enqueue")
    env = {"TROUPE_DEMO_DELAY": "0.02", "TROUPE_DATABASE_URL": f"sqlite:///{database}"}
    first = Troupe(config, cwd=tmp_path, env=env)
    cid, _, _ = first.say("interview", "Tell me about tea")
    before = first.conversation(cid)
    assert before["waiting_for"] == "you" and before["items"] == 2
    with first.client() as client:
        stream = client.chat.completions.create(
            model="interview",
            messages=[{"role": "user", "content": "And oolong?"}],
            stream=True,
            extra_headers={"x-conversation-id": cid},
        )
        words = 0
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                words += 1
                if words == 5:  # the helper is mid-sentence
                    first.kill()
                    break
    with sqlite3.connect(database) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    second = Troupe(config, cwd=tmp_path, env=env)
    try:
        after = second.conversation(cid)
        assert after == before  # the last commit, nothing of the killed turn
        # The dead process's lease runs out (lease_seconds: 1); enqueue waits for it.
        _, _, events = second.say("interview", "And oolong?", cid)
        assert started(events) == ["helper"]
        transcript = second.conversation(cid)["transcript"]
        assert transcript[:2] == before["transcript"]
        assert [(m["source"], m["content"]) for m in transcript[2:3]] == [("you", "And oolong?")]
        assert len(transcript) == 4
    finally:
        second.stop()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Troupe, Troupe]]:
    """Two `troupe serve` processes, one PostgreSQL database (of this test run)."""
    directory = tmp_path_factory.mktemp("replicas")
    config = write_config(directory)
    with postgres_database("troupe_e2e") as url:
        env = {"TROUPE_DATABASE_URL": url, "TROUPE_DEMO_DELAY": "0.01"}
        with ThreadPoolExecutor(2) as pool:  # they start (and migrate) at the same time
            starting = [pool.submit(Troupe, config, cwd=directory, env=env) for _ in range(2)]
        running: list[Troupe] = []
        failures: list[BaseException] = []
        for future in starting:
            try:
                running.append(future.result())
            except Exception as err:
                failures.append(err)
        try:
            if failures:
                raise failures[0]
            yield running[0], running[1]
        finally:
            for replica in running:
                replica.stop()


def test_a_conversation_alternates_between_replicas(replicas: tuple[Troupe, Troupe]) -> None:
    a, b = replicas
    cid, _, events = a.say("interview", "Hello from A")
    assert started(events) == ["helper"]
    for replica, text in ((b, "to B"), (a, "back to A"), (b, "B again")):
        same, _, events = replica.say("interview", text, cid)
        assert same == cid and started(events) == ["helper"]
    transcript = a.conversation(cid)["transcript"]
    assert [m["content"] for m in transcript if m["source"] == "you"] == [
        "to B",
        "back to A",
        "B again",
    ]
    assert b.conversation(cid) == a.conversation(cid)
    # A plain client, resending its history, alternating replicas.
    history = [{"role": "user", "content": "What is 2*21?"}]
    plain, answer, _ = b.complete("interview", history)
    for replica in (a, b):
        history += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "go on"},
        ]
        same, answer, _ = replica.complete("interview", history)
        assert same == plain


def test_concurrent_requests_on_one_conversation_exactly_one_proceeds(
    replicas: tuple[Troupe, Troupe],
) -> None:
    a, b = replicas
    barrier = threading.Barrier(4)
    statuses: list[int] = []
    body = {"model": "interview", "messages": [{"role": "user", "content": "all at once"}]}

    def ask(replica: Troupe) -> None:
        barrier.wait()
        response = replica.http(
            "POST", "/chat/completions", json=body, headers={"x-conversation-id": "race-1"}
        )
        statuses.append(response.status_code)
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "conversation_busy"

    threads = [threading.Thread(target=ask, args=(r,)) for r in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409]
    transcript = a.conversation("race-1")["transcript"]
    assert [m["content"] for m in transcript][:1] == ["all at once"] and len(transcript) == 2


def test_a_stop_on_one_replica_ends_the_run_on_the_other(replicas: tuple[Troupe, Troupe]) -> None:
    a, b = replicas
    with a.client() as client:
        stream = client.chat.completions.create(
            model="worker",
            messages=[{"role": "user", "content": "work until told"}],
            stream=True,
            extra_headers={"x-conversation-id": "stoppable"},
        )
        decoder = StreamDecoder()
        events = []
        asked = False
        with stream:
            for chunk in stream:
                events.extend(decoder.feed(chunk))
                if not asked and any(isinstance(e, TextDelta) for e in events):
                    stop = b.http("POST", "/conversations/stoppable/stop")
                    assert stop.status_code == 200 and stop.json()["stopping"] is True
                    asked = True
    assert run_end(events).stop_reason == "cancelled"
    assert b.http("POST", "/conversations/stoppable/stop").status_code == 409


def test_ids_a_client_may_not_use(replicas: tuple[Troupe, Troupe]) -> None:
    a, b = replicas
    cid, _, _ = a.say("interview", "mine", key="sk-one")
    for replica in (a, b):
        unknown = replica.http("GET", "/conversations/no-such-conversation")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "conversation_not_found"
        theirs = replica.http("GET", f"/conversations/{cid}", key="sk-two")
        assert theirs.status_code == 404  # not 403: the id does not leak
        assert replica.http("DELETE", f"/conversations/{cid}", key="sk-two").status_code == 404
        listed = replica.http("GET", "/conversations", key="sk-two").json()["data"]
        assert cid not in [c["id"] for c in listed]
        malformed = replica.http("GET", "/conversations/not%20an%20id")
        assert malformed.status_code == 400
        assert malformed.json()["error"]["param"] == "conversation_id"
        bad_header = replica.http(
            "POST",
            "/chat/completions",
            json={"model": "interview", "messages": [{"role": "user", "content": "x"}]},
            headers={"x-conversation-id": "../../etc/passwd"},
        )
        assert bad_header.status_code == 400
    assert a.http("DELETE", f"/conversations/{cid}").status_code == 200
    assert b.http("GET", f"/conversations/{cid}").status_code == 404
    assert httpx2.get(f"{a.url}/health").json()["status"] == "ok"
