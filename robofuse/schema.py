"""Build frozen config dataclasses from parsed YAML, with errors that say where and what.

Every config in robofuse is a frozen dataclass whose ``__post_init__`` checks values and
raises ``ValueError`` with a sentence. :func:`build` walks a mapping against the dataclass's
type hints and turns any problem into a :class:`~robofuse.errors.ConfigError` that names the
file, the key path, what was given and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from robofuse.errors import ConfigError

T = TypeVar("T")


def build(cls: type[T], data: Any, where: str) -> T:
    """Return ``cls(**data)`` after checking keys and types; ``where`` prefixes every error."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of {_describe(cls)}, got {_shown(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}.{key}: unknown key{hint}; allowed keys: {', '.join(fields)}")
    missing = [
        name
        for name, f in fields.items()
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing required key {missing[0]!r} ({_describe(hints[missing[0]])})")
    values = {key: convert(hints[key], value, f"{where}.{key}") for key, value in data.items()}
    try:
        return cls(**values)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None


def convert(hint: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the type ``hint`` and convert it (lists to tuples, str to enum)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return convert(options[0], value, where)
        errors = []
        for option in options:
            try:
                return convert(option, value, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{where}: {_shown(value)} is not {_describe(hint)}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {_shown(value)} is not allowed; use one of {list(args)}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list of {_describe(args[0])}, got {_shown(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {len(value)}")
        return tuple(convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=False)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping (key: {_describe(args[1])}), got {_shown(value)}")
        return {convert(args[0], k, where): convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [m.value for m in hint]
        if value not in allowed:
            raise ConfigError(f"{where}: {_shown(value)} is not allowed; use one of {allowed}")
        return hint(value)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)  # type: ignore[arg-type]
    return _convert_scalar(hint, value, where)


def _convert_scalar(hint: Any, value: Any, where: str) -> Any:
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_shown(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_shown(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_shown(value)} (quote it in YAML)")
        return value
    raise TypeError(f"robofuse bug: config type {hint!r} at {where} is not supported")


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if value is not None else "nothing (null)"


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin is tuple:
        return "a list"
    if origin is dict:
        return "a mapping"
    if hint is type(None):
        return "null"
    if dataclasses.is_dataclass(hint):
        return f"{hint.__name__} settings"  # type: ignore[union-attr]
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(hint, str(hint))


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``: the check every config uses."""
    if not condition:
        raise ValueError(message)
