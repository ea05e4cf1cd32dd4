"""OpenAI's Responses API (``/v1/responses``): every response is a view of a troupe run."""

from troupe.server.responses_api._encode import ResponseEncoder, response_id, run_id_of
from troupe.server.responses_api._routes import response_handlers

__all__ = ["ResponseEncoder", "response_handlers", "response_id", "run_id_of"]
