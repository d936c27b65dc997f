"""The parameter grid of a sweep: ``--grid KEY=SPEC`` parsed, expanded and validated.

A SPEC is a comma-separated list (``20,50,100``), an inclusive range ``a..b:step`` (ints or
floats, computed in decimal so ``0.1..0.3:0.1`` has exactly three points), or categorical
strings (``daily,weekly``). Each value is read as a YAML scalar or flow list, exactly as
``backtest --set KEY=VALUE`` reads it; commas inside ``[...]``/``{...}`` or quotes do not split.

Every key and every value is checked through the backtest's own override path
(:func:`papertrade.config.load_config` and :func:`papertrade.runner.build_strategy`) before
anything runs, so a bad one fails with the same one-line message and exit code 2.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from papertrade.config import LoadedConfig, load_config, override_config
from papertrade.errors import ConfigError
from papertrade.util.text import one_line

#: at most this many points in a range, and in a whole grid
MAX_RANGE: Final = 100_000
MAX_POINTS: Final = 10_000_000
WHERE: Final = "--grid"


@dataclass(frozen=True)
class Axis:
    """One swept key: its dotted path, the values as written and as parsed."""

    key: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Point:
    """One config of the grid: its number (stable across runs) and its values per key."""

    index: int
    texts: tuple[str, ...]
    values: tuple[Any, ...]

    def as_dict(self, keys: Sequence[str]) -> dict[str, Any]:
        """``{key path: parsed value}`` (the engines' ``overrides``)."""
        return dict(zip(keys, self.values, strict=True))

    def sets(self, keys: Sequence[str]) -> list[str]:
        """``KEY=TEXT`` overrides reproducing this point with ``--set``."""
        return [f"{k}={t}" for k, t in zip(keys, self.texts, strict=True)]


def split_values(text: str) -> list[str]:
    """Split on top-level commas (not inside brackets, braces or quotes)."""
    parts: list[str] = []
    depth, quote = 0, ""
    current: list[str] = []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def _decimal(text: str, key: str, spec: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ConfigError(WHERE, key, f"range '{one_line(spec, 60)}': '{one_line(text, 30)}' "
                          "is not a number", "write a..b:step, e.g. 20..100:10") from None
    if not value.is_finite():
        raise ConfigError(WHERE, key, f"range '{one_line(spec, 60)}' is not finite",
                          "write finite numbers")
    return value


def expand_range(spec: str, key: str) -> list[str] | None:
    """``a..b:step`` as the texts of its points (inclusive end), or None if not a range."""
    if ".." not in spec or spec.lstrip().startswith(("[", "{", "'", '"')):
        return None
    bounds, _, step_text = spec.partition(":")
    low_text, _, high_text = bounds.partition("..")
    low, high = _decimal(low_text, key, spec), _decimal(high_text, key, spec)
    step = _decimal(step_text, key, spec) if step_text.strip() else Decimal(1)
    if step <= 0:
        raise ConfigError(WHERE, key, f"range '{one_line(spec, 60)}': the step must be above 0",
                          "write a..b:step with step > 0, e.g. 20..100:10")
    if high < low:
        raise ConfigError(WHERE, key, f"range '{one_line(spec, 60)}' ends before it starts",
                          "write the smaller bound first")
    count = int((high - low) / step) + 1
    if count > MAX_RANGE:
        raise ConfigError(WHERE, key, f"range '{one_line(spec, 60)}' has {count:,} points",
                          f"use a coarser step (at most {MAX_RANGE:,} points)")
    is_int = all("." not in t and "e" not in t.lower() for t in (low_text, high_text, step_text))
    points = [low + i * step for i in range(count)]
    return [str(int(p)) if is_int else _float_text(p) for p in points]


def _float_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def parse_axis(item: str) -> tuple[str, list[str]]:
    """``KEY=SPEC`` -> (key, value texts); shape errors only (values are checked later)."""
    if "=" not in item:
        raise ConfigError(WHERE, one_line(item, 60), "not KEY=VALUES",
                          "write e.g. --grid strategy.params.exit.ma_days=20..100:10")
    key, _, spec = item.partition("=")
    key = key.strip()
    if not key or not all(key.split(".")):
        raise ConfigError(WHERE, one_line(item, 60), "empty key segment",
                          "write e.g. --grid broker.fee_bps=5,10")
    if not spec.strip():
        raise ConfigError(WHERE, key, "no values", "write e.g. --grid broker.fee_bps=5,10")
    texts = expand_range(spec, key) or split_values(spec)
    if any(not t for t in texts):
        raise ConfigError(WHERE, key, f"an empty value in '{one_line(spec, 60)}'",
                          "remove the extra comma")
    return key, list(dict.fromkeys(texts))


def _parsed(loaded: LoadedConfig, key: str) -> Any:
    node: Any = loaded.raw
    for part in key.split("."):
        node = node[part]
    return node


def check_axes(config: Path, sets: Sequence[str], parsed: Sequence[tuple[str, Sequence[str]]],
               strategy_paths: Sequence[Path] = ()) -> list[Axis]:
    """Check each value of each parsed ``--grid`` item as ``backtest --set`` would."""
    from papertrade.runner import build_strategy

    axes: list[Axis] = []
    seen: set[str] = set()
    for key, texts in parsed:
        if key in seen:
            raise ConfigError(WHERE, key, "given twice", "merge the values into one --grid")
        seen.add(key)
        values = []
        for text in texts:
            loaded = load_config(config, [*sets, f"{key}={text}"])
            build_strategy(loaded, strategy_paths)
            values.append(_parsed(loaded, key))
        axes.append(Axis(key, tuple(texts), tuple(values)))
    if not axes:
        raise ConfigError(WHERE, "", "no --grid given",
                          "give at least one, e.g. --grid strategy.params.exit.ma_days=20,50")
    return axes


def size(axes: Sequence[Axis]) -> int:
    """The number of points of the full grid."""
    total = 1
    for axis in axes:
        total *= len(axis.values)
    return total


def points(axes: Sequence[Axis], samples: int | None = None, seed: int = 0) -> list[Point]:
    """Every point of the grid in a fixed order, or ``samples`` of them drawn with ``seed``
    (sorted by their number, so a sample is a subset of the full grid's rows)."""
    total = size(axes)
    if total > MAX_POINTS and samples is None:
        raise ConfigError(WHERE, "", f"the grid has {total:,} points",
                          f"pass --samples N (at most {MAX_POINTS:,} points run in full)")
    chosen: Iterator[int] | list[int]
    if samples is not None and samples < total:
        chosen = sorted(random.Random(seed).sample(range(total), samples))
    else:
        chosen = range(total)  # type: ignore[assignment]
    out = []
    radices = [len(a.values) for a in axes]
    for index in chosen:
        digits, rest = [], index
        for radix in reversed(radices):
            digits.append(rest % radix)
            rest //= radix
        digits.reverse()
        out.append(Point(index, tuple(a.texts[d] for a, d in zip(axes, digits, strict=True)),
                         tuple(a.values[d] for a, d in zip(axes, digits, strict=True))))
    return out


def check_points(loaded: LoadedConfig, keys: Sequence[str], chosen: Sequence[Point],
                 strategy_paths: Sequence[Path] = ()) -> None:
    """Every combination validates (a strategy may refuse a pair of values that each pass)."""
    from papertrade.runner import build_strategy

    for point in chosen:
        try:
            build_strategy(override_config(loaded, point.as_dict(keys)), strategy_paths)
        except ConfigError as exc:
            shown = " ".join(point.sets(keys))
            raise ConfigError(exc.file, exc.key, f"{exc.problem} (grid point {shown})",
                              exc.fix) from None
