"""One page of a list of items, as OpenAI's list endpoints answer (``order``, ``after``, ``limit``)."""

from __future__ import annotations

__all__ = ["item_page"]

from typing import Any

from litestar import Request

from troupe.errors import RequestError

MAX_LIMIT = 100


def item_page(request: Request[Any, Any, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """``items`` (oldest first) as a list page: ``?order=asc|desc`` (desc by default),
    ``?after=<id>``, ``?limit=`` (1 to 100, 20 by default)."""
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise RequestError(f"order must be 'asc' or 'desc', not {order[:32]!r}", param="order")
    raw = request.query_params.get("limit", "20")
    limit = int(raw) if raw.isdigit() else 0
    if not 1 <= limit <= MAX_LIMIT:
        raise RequestError(
            f"limit must be a whole number from 1 to {MAX_LIMIT}, not {raw[:32]!r}", param="limit"
        )
    ordered = list(reversed(items)) if order == "desc" else list(items)
    after = request.query_params.get("after")
    if after:
        ids = [item["id"] for item in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else "",
        "last_id": page[-1]["id"] if page else "",
        "has_more": len(ordered) > limit,
    }
