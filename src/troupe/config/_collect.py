"""Decoding a parsed config into the spec Structs, collecting every error on the way.

``msgspec.convert`` stops at the first error. To report every error of a
file at once, this walks the spec's types (Structs, tagged unions of Structs,
lists, dicts, ``Annotated`` constraints) and converts leaf by leaf, so one
run of ``troupe check`` lists them all, each at its path.

The walk is lenient so that later checks (references between models, teams
and tools) can still run: a bad optional field takes its default, an unknown
field is left out, and an entry that cannot be built at all (a required field
is bad) is left out and its path recorded in ``dropped``, so that whoever
refers to it is not told a second time that it does not exist.

A union of tagged Structs uses its *first* member when a mapping has no tag
(``kind``): ``round_robin`` teams, ``assistant`` agents, ``docker`` executors.
"""

from __future__ import annotations

__all__ = ["Collector", "join", "shown"]

import difflib
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from troupe.errors import ConfigIssue

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_SECRET_PREFIXES = ("sk-", "sk_", "xox", "ghp_", "gho_", "github_pat_", "AKIA", "AIza", "Bearer ")
_BAD: Any = object()  # what a value that cannot be decoded converts to


def join(path: str, key: object) -> str:
    """The path of ``key`` under ``path``: ``$.teams.x``, or ``$.teams['a b']``."""
    key = str(key)
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f"{path}[{key!r}]"


def shown(value: object) -> str:
    """``value`` quoted for an error message, unless it may be a secret (an API key)."""
    if isinstance(value, str):
        text = value.strip()
        random_looking = (
            len(text) >= 24
            and not re.search(r"\s", text)
            and re.search(r"[0-9]", text) is not None
            and re.search(r"[A-Za-z]", text) is not None
        )
        if text.startswith(_SECRET_PREFIXES) or random_looking:
            return "(not shown)"
    return repr(value)


def _unwrap(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    """A type without its ``Annotated`` layer, and that layer's metadata."""
    if get_origin(tp) is Annotated:
        base, *metas = get_args(tp)
        return base, tuple(metas)
    return tp, ()


def _members(tp: Any) -> tuple[Any, ...] | None:
    """The members of a union type, or None when ``tp`` is not a union."""
    if get_origin(tp) in (Union, types.UnionType):
        return get_args(tp)
    return None


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _shape(tp: Any) -> str:
    """Which JSON shape a type decodes from: object, array, or anything else (leaf)."""
    base, _ = _unwrap(tp)
    origin = get_origin(base)
    if _is_struct(base) or origin is dict or base is dict:
        return "object"
    if origin in (list, tuple, set, frozenset) or base in (list, tuple):
        return "array"
    return "leaf"


def _literals(tp: Any) -> list[Any]:
    """Every value of the ``Literal`` types inside ``tp``."""
    base, _ = _unwrap(tp)
    if get_origin(base) is Literal:
        return list(get_args(base))
    return [value for member in _members(base) or () for value in _literals(member)]


class Collector:
    """Converts raw values to spec types, recording an issue for each error."""

    def __init__(self) -> None:
        self.issues: list[ConfigIssue] = []
        self.dropped: set[str] = set()

    def report(self, path: str, message: str) -> None:
        self.issues.append(ConfigIssue(path, message))

    def convert(self, raw: Any, tp: Any, path: str) -> Any:
        """``raw`` as a ``tp``, or ``_BAD`` (see ``ok``) with the reasons reported."""
        base, metas = _unwrap(tp)
        members = _members(base)
        if members is not None:
            return self._union(raw, tp, members, path)
        if _is_struct(base):
            return self._struct(raw, [base], path)
        shape = _shape(base)
        if shape == "leaf" or base is Any:
            return self._leaf(raw, tp, path)
        # Check the container itself (its type, its length) before its items.
        container: Any = dict[Any, Any] if shape == "object" else list[Any]
        if metas:
            container = Annotated[(container, *metas)]
        if self._leaf(raw, container, path) is _BAD:
            return _BAD
        args = get_args(base)
        if shape == "object":
            key_type, value_type = args or (Any, Any)
            return self._dict(raw, key_type, value_type, path)
        item_type = args[0] if args else Any
        items = []
        for index, item in enumerate(raw):
            value = self.convert(item, item_type, f"{path}[{index}]")
            if value is _BAD:
                self.dropped.add(f"{path}[{index}]")
            else:
                items.append(value)
        return items

    @staticmethod
    def ok(value: Any) -> bool:
        return value is not _BAD

    def _dict(self, raw: dict[Any, Any], key_type: Any, value_type: Any, path: str) -> Any:
        result = {}
        for key, item in raw.items():
            where = join(path, key)
            if self._leaf(key, key_type, where, what="name") is _BAD:
                self.dropped.add(where)
                continue
            value = self.convert(item, value_type, where)
            if value is _BAD:
                self.dropped.add(where)
            else:
                result[key] = value
        return result

    def _union(self, raw: Any, tp: Any, members: tuple[Any, ...], path: str) -> Any:
        if raw is None and type(None) in members:
            return None
        wanted = "object" if isinstance(raw, dict) else "array" if isinstance(raw, list) else "leaf"
        fits = [m for m in members if _shape(m) == wanted and m is not type(None)]
        structs = [m for m in fits if _is_struct(_unwrap(m)[0])]
        if wanted == "object" and structs and len(structs) == len(fits):
            return self._struct(raw, [_unwrap(m)[0] for m in structs], path)
        if wanted != "leaf" and len(fits) == 1:
            return self.convert(raw, fits[0], path)
        return self._leaf(raw, tp, path)

    def _leaf(self, raw: Any, tp: Any, path: str, *, what: str = "value") -> Any:
        try:
            return msgspec.convert(raw, tp)
        except msgspec.ValidationError as err:
            match = _AT.match(str(err))
            assert match is not None
            message, inner = match.group("msg"), match.group("path") or ""
            if message.startswith("Invalid enum value"):
                values = ", ".join(str(v) for v in _literals(tp))
                message = f"invalid {what} {shown(raw)}; expected one of: {values}"
            self.report(path + inner, message)
            return _BAD

    def _struct(self, raw: Any, kinds: list[type[msgspec.Struct]], path: str) -> Any:
        """A Struct, or one of ``kinds`` (tagged) chosen by the mapping's tag."""
        if not isinstance(raw, dict):
            # msgspec's words for what YAML gave, as in its own messages.
            got = {type(None): "null", list: "array", str: "str", bool: "bool"}.get(
                type(raw), type(raw).__name__
            )
            self.report(path, f"Expected `object`, got `{got}`")
            return _BAD
        config = kinds[0].__struct_config__
        tag_field = config.tag_field
        cls = kinds[0]
        if len(kinds) > 1 or (tag_field is not None and tag_field in raw):
            tags = {k.__struct_config__.tag: k for k in kinds}
            tag = raw.get(tag_field, config.tag) if tag_field else None
            if tag not in tags:
                listed = ", ".join(str(t) for t in tags)
                self.report(
                    join(path, tag_field), f"invalid kind {shown(tag)}; expected one of: {listed}"
                )
                return _BAD
            cls = tags[tag]
        fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
        values: dict[str, Any] = {}
        complete = True
        for key, item in raw.items():
            if key == tag_field and tag_field is not None:
                continue
            field = fields.get(key) if isinstance(key, str) else None
            if field is None:
                self.report(join(path, key), self._unknown(key, cls, kinds, fields))
                continue
            value = self.convert(item, field.type, join(path, key))
            if value is not _BAD:
                values[field.name] = value
            elif field.required:
                complete = False
        for key, field in fields.items():
            if field.required and key not in raw:
                tag = cls.__struct_config__.tag
                needed = f" (kind {tag} needs it)" if tag is not None else ""
                self.report(join(path, key), f"required field missing{needed}")
                complete = False
        if not complete:
            return _BAD
        try:
            return cls(**values)
        except (TypeError, ValueError) as err:  # a Struct's own __post_init__ check
            self.report(path, str(err))
            return _BAD

    @staticmethod
    def _unknown(
        key: object, cls: type[msgspec.Struct], kinds: list[type[msgspec.Struct]], fields: Any
    ) -> str:
        tag = cls.__struct_config__.tag
        owners = [
            str(k.__struct_config__.tag)
            for k in kinds
            if k is not cls and any(f.encode_name == key for f in msgspec.structs.fields(k))
        ]
        if owners:
            return f"`{key}` does not apply to kind {tag} (only to kind {', '.join(owners)})"
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        where = f" of kind {tag}" if len(kinds) > 1 else ""
        return f"unknown field `{key}`{hint}; fields{where}: {', '.join(fields)}"


def consequences_dropped(earlier: list[ConfigIssue], later: list[ConfigIssue]) -> list[ConfigIssue]:
    """``later`` without the issues at (or under) the path of an ``earlier`` one.

    A value reported once (an unset ``${VAR}``, a field of the wrong type) is
    replaced by a default to go on checking; what a later step says about that
    default (``no API key``) is only an echo of the first error.
    """
    paths = {issue.path for issue in earlier}

    def echoed(path: str) -> bool:
        return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in paths)

    return [issue for issue in later if not echoed(issue.path)]
