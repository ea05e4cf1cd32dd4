"""``GET /openapi.json`` and ``GET /docs``: the API described, and a page to try it.

The page is one self-contained HTML file (no CDN, no bundle): it reads
``/openapi.json`` and lists every operation with its parameters, body and
answers, with a form that sends a request with your key. Litestar's Swagger,
ReDoc and Scalar pages load their scripts from CDNs, which a server without
internet access (or a browser behind a strict proxy) cannot reach.
"""

from __future__ import annotations

__all__ = ["docs_handlers"]

from functools import cache
from importlib.resources import files
from typing import Any

from litestar import MediaType, Response, get
from litestar.handlers import HTTPRouteHandler

from troupe import __version__
from troupe.server._service import ChatService


@cache
def _page() -> str:
    return files("troupe.server.openapi").joinpath("docs.html").read_text()


def docs_handlers(service: ChatService, *, prefix: str, secured: bool) -> list[HTTPRouteHandler]:
    """The document and its page, for the teams of ``service`` served under ``prefix``.

    The document is written when it is first asked for, not at start: OpenAI's schemas in
    it are a third of a megabyte of JSON, a replica that is never asked need not read."""
    # Team names are listed only where anyone may list the models anyway.
    teams = () if secured else tuple(service.teams)

    @cache
    def document() -> dict[str, Any]:
        from troupe.server.openapi import openapi_document
        from troupe.server.openapi.operations import ALL

        return openapi_document(
            ALL, prefix=prefix, teams=teams, secured=secured, version=__version__
        )

    @get("/openapi.json", sync_to_thread=False, include_in_schema=False)
    def openapi_json() -> Response[dict[str, Any]]:
        return Response(document(), media_type=MediaType.JSON)

    @get("/docs", sync_to_thread=False, include_in_schema=False)
    def docs() -> Response[str]:
        return Response(
            _page(),
            media_type=MediaType.HTML,
            headers={
                "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"
            },
        )

    return [openapi_json, docs]
