"""``troupe.logs``: context fields on every line, JSON lines, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from troupe import logs


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abcdef0123456789", "abcdef0123456789"),
        ("Incorrect API key provided: sk-proj-AbC123xyz987.", "AbC123xyz987"),
        ("key sk-ant-api03-QWERTY12345", "QWERTY12345"),
        ("connect to postgresql://troupe:s3cr3t-pw@db:5432/troupe", "s3cr3t-pw"),
        ("http://bob:hunter2@10.0.0.5:8101/v1 refused", "hunter2"),
        ("GET /v1/x?api_key=abc123def456&x=1", "abc123def456"),
        ('{"api_key": "plainkey-9876"}', "plainkey-9876"),
        ("password=correct-horse", "correct-horse"),
        ("slack token xoxb-1234-5678-abcdefgh", "abcdefgh"),
    ],
)
def test_redact_masks_secrets(text: str, secret: str) -> None:
    clean = logs.redact(text)
    assert secret not in clean
    assert "***" in clean


@pytest.mark.parametrize(
    "text",
    [
        "agent 'bot': openai model 'gpt-4o': HTTP 401 (check the API key)",
        "usage: 10 prompt tokens, max_tokens=100",
        "http://10.0.0.5:8101/v1 refused",
        "task-1234567 done",
    ],
)
def test_redact_keeps_ordinary_text(text: str) -> None:
    assert logs.redact(text) == text


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.RedactingFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("troupe.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)


def parse(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_carry_bound_fields(json_lines: io.StringIO) -> None:
    log = logging.getLogger("troupe.test")
    log.info("before")
    with logs.bound(request_id="req_1", team="support"):
        log.warning("inside %s", "a request")
        with logs.bound(agent="bot", team=None):
            log.info("in a turn")
    log.info("after")
    first, inside, turn, after = parse(json_lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert inside["message"] == "inside a request"
    assert inside["level"] == "warning" and inside["logger"] == "troupe.test"
    assert inside["request_id"] == "req_1" and inside["team"] == "support"
    assert turn["agent"] == "bot" and "team" not in turn
    assert "request_id" not in after
    assert str(first["time"]).endswith("Z")


@pytest.mark.anyio
async def test_fields_bound_in_a_task_stay_in_that_task(json_lines: io.StringIO) -> None:
    log = logging.getLogger("troupe.test")

    async def worker(name: str) -> None:
        logs.bind(run_id=name)
        await anyio.lowlevel.checkpoint()
        log.info("working")

    with logs.bound(request_id="req_2"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, "run_a")
            tg.start_soon(worker, "run_b")
    lines = parse(json_lines)
    assert sorted(str(line["run_id"]) for line in lines) == ["run_a", "run_b"]
    assert {line["request_id"] for line in lines} == {"req_2"}
    assert "run_id" not in logs.context()


def test_secrets_are_masked_in_messages_and_tracebacks(json_lines: io.StringIO) -> None:
    log = logging.getLogger("troupe.test")
    log.warning("calling with %s", "Bearer sk-live-abcdef123456")
    try:
        raise RuntimeError("cannot connect to postgresql://app:pw-0987654@db/x")
    except RuntimeError:
        log.exception("store failed")
    warning, error = parse(json_lines)
    assert "abcdef123456" not in str(warning["message"])
    assert "pw-0987654" not in json_lines.getvalue()
    assert "RuntimeError" in str(error["exception"])
