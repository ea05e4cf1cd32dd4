"""From a function's signature to the JSON schema and decoder of its arguments.

The arguments are one msgspec Struct built from the signature, so a call is a
single ``decode`` that parses and validates at once. Parameters with defaults
decode as ``T | None`` with ``None`` meaning "use the default": strict mode
makes the model send every parameter, and null is how it says "no value".
"""

from __future__ import annotations

__all__ = ["Arguments", "Param", "read_arguments"]

import contextlib
import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_origin

import msgspec

from troupe.tools._schema import Schema, inline_refs, make_nullable, make_strict

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    name: str
    annotation: Any
    positional_only: bool
    default: Any
    description: str

    @property
    def required(self) -> bool:
        return self.default is _EMPTY


@dataclass(frozen=True)
class Arguments:
    """A function's parameters, their decoder, and their JSON schema (non-strict form)."""

    params: tuple[Param, ...]
    decoder: msgspec.json.Decoder[Any]
    schema: Schema

    def strict_schema(self) -> tuple[Schema, list[str]]:
        """The schema in strict form, and what keeps it from being strict (if anything)."""
        schema = copy.deepcopy(self.schema)
        properties = schema["properties"]
        for param in self.params:
            if not param.required:
                properties[param.name] = make_nullable(properties[param.name])
        return make_strict(schema)

    def bind(self, decoded: Any) -> tuple[list[Any], dict[str, Any]]:
        """Positional and keyword arguments for the function from a decoded Struct."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self.params:
            value = getattr(decoded, param.name)
            if value is None and not param.required:
                if not param.positional_only:
                    continue
                value = param.default
            if param.positional_only:
                args.append(value)
            else:
                kwargs[param.name] = value
        return args, kwargs


def read_arguments(fn: Callable[..., Any], label: str, docs: dict[str, str]) -> Arguments:
    """Read ``fn``'s signature; ``TypeError`` naming ``label`` and the parameter if unusable."""
    try:
        signature = inspect.signature(fn, eval_str=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot make a tool of '{label}': {exc}") from exc
    except Exception as exc:
        raise TypeError(
            f"cannot make a tool of '{label}': cannot resolve its type hints ({exc})"
        ) from exc
    params = tuple(_read_param(p, label, docs) for p in signature.parameters.values())
    schema_fields: list[Any] = []
    decode_fields: list[Any] = []
    for param in params:
        if param.required:
            schema_fields.append((param.name, param.annotation))
            decode_fields.append((param.name, param.annotation))
        else:
            schema_fields.append((param.name, param.annotation, None))
            decode_fields.append((param.name, Union[param.annotation, None], None))  # noqa: UP007
    options: dict[str, Any] = {"kw_only": True, "forbid_unknown_fields": True}
    try:
        schema = msgspec.json.schema(msgspec.defstruct("Arguments", schema_fields, **options))
        decoder = msgspec.json.Decoder(msgspec.defstruct("Arguments", decode_fields, **options))
    except (TypeError, ValueError) as exc:
        raise _unsupported_type(label, params, exc) from exc
    schema = inline_refs(schema)
    for param in params:
        _describe(schema["properties"][param.name], param)
    return Arguments(params, decoder, schema)


def _read_param(param: inspect.Parameter, label: str, docs: dict[str, str]) -> Param:
    prefix = f"cannot make a tool of '{label}'"
    if param.kind is inspect.Parameter.VAR_POSITIONAL:
        raise TypeError(f"{prefix}: *{param.name} is not supported; tools take named parameters")
    if param.kind is inspect.Parameter.VAR_KEYWORD:
        raise TypeError(f"{prefix}: **{param.name} is not supported; tools take named parameters")
    if param.annotation is _EMPTY:
        raise TypeError(f"{prefix}: parameter '{param.name}' has no type annotation")
    return Param(
        name=param.name,
        annotation=param.annotation,
        positional_only=param.kind is inspect.Parameter.POSITIONAL_ONLY,
        default=param.default,
        description=_annotated_description(param.annotation) or docs.get(param.name, ""),
    )


def _annotated_description(annotation: Any) -> str:
    if get_origin(annotation) is not Annotated:
        return ""
    for extra in annotation.__metadata__:
        if isinstance(extra, str):
            return extra
        if isinstance(extra, msgspec.Meta) and extra.description:
            return extra.description
    return ""


def _describe(node: Schema, param: Param) -> None:
    if param.description:
        node["description"] = param.description
    node.pop("default", None)
    if not param.required:
        # A default with no JSON form is left out; the parameter still shows as optional.
        with contextlib.suppress(TypeError, ValueError, msgspec.MsgspecError):
            node["default"] = msgspec.json.decode(msgspec.json.encode(param.default))


def _unsupported_type(label: str, params: tuple[Param, ...], exc: Exception) -> TypeError:
    for param in params:
        try:
            msgspec.json.schema(param.annotation)
            msgspec.json.Decoder(param.annotation)
        except (TypeError, ValueError) as param_exc:
            reason = str(param_exc).splitlines()[-1]
            return TypeError(
                f"cannot make a tool of '{label}': parameter '{param.name}' has a type "
                f"that cannot be described in JSON schema ({reason})"
            )
    return TypeError(f"cannot make a tool of '{label}': {exc}")
