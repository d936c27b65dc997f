"""Pydantic validation errors as one-line :class:`~papertrade.errors.ConfigError` s.

The first error becomes ``file: dotted.key: problem; fix``, with a did-you-mean for unknown keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from papertrade.errors import ConfigError
from papertrade.util.text import did_you_mean


def _dotted(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last segment of ``loc`` (for did-you-mean)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(current, type)
                                         and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
        args = getattr(current, "__args__", ())
        if args:
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            current = models[0] if len(models) == 1 else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def format_validation_error(
    exc: ValidationError, file: str, model: type[BaseModel], prefix: str = ""
) -> ConfigError:
    """Turn the first pydantic error into a ConfigError with key path and a fix."""
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
    key = _dotted((*prefix.split("."), *loc)) if prefix else _dotted(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(model, loc)
        options = list(owner.model_fields) if owner else []
        hint = did_you_mean(str(loc[-1]), options)
        fix = hint or (f"allowed keys: {', '.join(options)}" if options else "remove it")
        return ConfigError(file, key, "unknown key", fix)
    if kind == "missing":
        return ConfigError(file, key, "required key is missing", "add it (see configs/)")
    given = err.get("input")
    shown = repr(given) if not isinstance(given, dict | list) else type(given).__name__
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        return ConfigError(
            file, key, f"unknown source {shown}", "use one of: bundled, csv, yfinance, ccxt"
        )
    return ConfigError(file, key, f"{msg} (got {shown})", "correct the value")


_UNION_TAGS = {"bundled", "csv", "yfinance", "ccxt"}


