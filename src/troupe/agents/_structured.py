"""Structured output: an agent whose answer must match a JSON schema or a msgspec type.

The schema goes to the provider with every request (OpenAI ``response_format``,
Anthropic, Ollama ``format``); the answer is then checked here, and an answer
that does not match is sent back to the model with the reason, a bounded
number of times.
"""

from __future__ import annotations

__all__ = ["MAX_INVALID_ANSWERS", "StructuredOutput"]

import re
from typing import Any

import msgspec

from troupe.models import OutputSchema
from troupe.tools._schema import inline_refs, make_strict

MAX_INVALID_ANSWERS = 2
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class StructuredOutput:
    def __init__(
        self, schema: OutputSchema, decoder: msgspec.json.Decoder[Any] | None = None
    ) -> None:
        self.schema = schema
        self.decoder = decoder

    @classmethod
    def of(cls, output: type[Any] | OutputSchema) -> StructuredOutput:
        if isinstance(output, OutputSchema):
            return cls(output)
        schema, not_strict = make_strict(inline_refs(msgspec.json.schema(output)))
        name = re.sub(r"[^A-Za-z0-9_-]", "_", getattr(output, "__name__", "output"))[:64]
        return cls(
            OutputSchema(schema=schema, name=name, strict=not not_strict),
            msgspec.json.Decoder(output),
        )

    def problem(self, content: str) -> str | None:
        """Why ``content`` is not a valid answer, for the model to fix; None when it is."""
        text = content.strip()
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1)
        try:
            if self.decoder is not None:
                self.decoder.decode(text)
            else:
                value = msgspec.json.decode(text)
                if self.schema.schema.get("type") == "object" and not isinstance(value, dict):
                    raise msgspec.ValidationError("Expected a JSON object")
        except (msgspec.ValidationError, msgspec.DecodeError) as err:
            return (
                f"Your answer must be JSON matching the {self.schema.name} schema, with nothing "
                f"else: {err}. Answer again."
            )
        return None
