"""``/runs``: a run's record, its stream (resumable), cancel; stored completions.

A run belongs to the API key that started it: another key's run is 404, like
one that does not exist.
"""

from __future__ import annotations

__all__ = ["run_handlers", "run_object"]

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from troupe.errors import RequestError
from troupe.runs import RunNotFoundError
from troupe.server._auth import ApiKeys
from troupe.server._responses import RunStreamResponse, completion_body
from troupe.server._routes import Settings
from troupe.server._service import ChatService
from troupe.store import ACTIVE, RunRecord

MAX_LIMIT = 100


class RunInProgressError(RequestError):
    status_code = 409
    code = "run_in_progress"


def run_object(record: RunRecord) -> dict[str, Any]:
    usage = record.usage
    return {
        "id": record.id,
        "object": "troupe.run",
        "conversation_id": record.conversation_id,
        "team": record.team,
        "status": record.status,
        "background": record.background,
        "created_at": int(record.created_at),
        "ended_at": int(record.ended_at) if record.ended_at is not None else None,
        "stop_reason": record.stop_reason,
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        },
        "last_event_id": record.last_event_id,
    }


def _after(request: Request[Any, Any, Any]) -> int:
    # A browser's EventSource reconnects to the same URL (its ?after= too) with the last id it
    # saw as Last-Event-ID: the header is the newer news, so it wins.
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    try:
        after = int(raw.strip())
    except ValueError:
        after = -1
    if after < 0:
        raise RequestError(
            f"after / Last-Event-ID must be a sequence number (0 or more), not {raw[:32]!r}",
            param="after",
        )
    return after


@get("/runs/{run_id:str}")
async def get_run(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    run_id: FromPath[str],
) -> dict[str, Any]:
    return run_object(await service.manager.get(run_id, api_keys.scope(request)))


@get("/runs/{run_id:str}/stream")
async def stream_run(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    settings: NamedDependency[Settings],
    run_id: FromPath[str],
) -> ASGIResponse:
    """The run's frames after ``Last-Event-ID`` (or ``?after=``), then live until ``[DONE]``.
    A finished run whose frames were all seen answers 204, which ends an ``EventSource``."""
    after = _after(request)
    record = await service.manager.get(run_id, api_keys.scope(request))
    trailer = 1 + (1 if record.input.include_usage else 0)
    if record.status not in ACTIVE and after >= record.last_event_id + trailer:
        return ASGIResponse(body=b"", status_code=204)
    return RunStreamResponse(service.manager, record, after=after, keepalive=settings.keepalive)


@post("/runs/{run_id:str}/cancel", status_code=200)
async def cancel_run(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    run_id: FromPath[str],
) -> dict[str, Any]:
    """Stop the run now, mid-turn, on whichever replica runs it; completed turns are kept."""
    return run_object(await service.manager.cancel(run_id, api_keys.scope(request)))


@get("/chat/completions/{completion_id:str}")
async def get_completion(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    completion_id: FromPath[str],
) -> Response[bytes]:
    """A finished run's ``chat.completion`` (OpenAI's stored completions)."""
    run_id = "run_" + completion_id.removeprefix("chatcmpl-")
    if not completion_id.startswith("chatcmpl-"):
        raise RunNotFoundError(f"completion {completion_id!r} not found", param="completion_id")
    try:
        record, events = await service.manager.events(run_id, api_keys.scope(request))
    except RunNotFoundError:
        raise RunNotFoundError(
            f"completion {completion_id!r} not found", param="completion_id"
        ) from None
    if record.status in ACTIVE:
        raise RunInProgressError(
            f"completion {completion_id!r} is not finished yet: its run {record.id} is "
            f"{record.status} (GET /v1/runs/{record.id}/stream follows it)",
            param="completion_id",
        )
    return Response(completion_body(record, events), media_type="application/json")


@get("/conversations/{conversation_id:str}/runs")
async def conversation_runs(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    conversation_id: FromPath[str],
) -> dict[str, Any]:
    """The conversation's runs, newest first (``?limit=``, up to 100)."""
    raw = request.query_params.get("limit", "20")
    limit = int(raw) if raw.isdigit() else 0
    if not 1 <= limit <= MAX_LIMIT:
        raise RequestError(
            f"limit must be a whole number from 1 to {MAX_LIMIT}, not {raw[:32]!r}", param="limit"
        )
    runs = await service.runs(conversation_id, api_keys.scope(request), limit=limit)
    data = [run_object(run) for run in runs]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(data) == limit,
    }


run_handlers = [get_run, stream_run, cancel_run, get_completion, conversation_runs]
