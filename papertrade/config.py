"""YAML -> frozen, typed run configuration.

Loading is strict: YAML syntax errors, duplicate keys, unknown keys and wrong types all raise
:class:`~papertrade.errors.ConfigError` with the file, the dotted key and what to do about it.
``${VAR}`` and ``${VAR:-default}`` are interpolated from the environment in string values;
``--set a.b=value`` overrides are applied before validation.

Hostile or broken input fails fast, as one line of bounded length (the file is cut at 200
characters, the key at 100, the problem and the fix at 200 each: no message echoes kilobytes
of input):

- a config file larger than 1 MB, nested deeper than 32 levels, whose YAML aliases would
  add more than 10,000 nodes to those written out (an "alias bomb") or refer to themselves (a
  recursive structure) is refused *before* it is expanded (so are ``--set`` values);
- every number anywhere in the config (strategy parameters included) must be finite and
  within +-1e15; the typed sections add their own documented ranges
  (see :mod:`papertrade.config_models`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import ValidationError

from papertrade.config_models import (
    BrokerConfig,
    BundledSource,
    CacheSource,
    Calendar,
    CcxtSource,
    CsvSource,
    DataConfig,
    EmulatorConfig,
    Frozen,
    LiveConfig,
    LoadedConfig,
    RiskConfig,
    RunConfig,
    StrategyConfig,
    SymbolSource,
    YFinanceSource,
)
from papertrade.config_yaml import (
    MAX_DEPTH,
    interpolate,
    join_key,
    load_text,
    parse_yaml,
    read_yaml,
)
from papertrade.errors import ConfigError
from papertrade.util.paths import resolve_path
from papertrade.util.secrets import refuse_masked
from papertrade.util.text import one_line
from papertrade.util.validation import format_validation_error

MAX_ABS_NUMBER = 10**15

__all__ = [
    "BrokerConfig",
    "BundledSource",
    "CacheSource",
    "Calendar",
    "CcxtSource",
    "ConfigError",
    "CsvSource",
    "DataConfig",
    "EmulatorConfig",
    "Frozen",
    "LiveConfig",
    "LoadedConfig",
    "RiskConfig",
    "RunConfig",
    "StrategyConfig",
    "SymbolSource",
    "YFinanceSource",
    "apply_overrides",
    "apply_values",
    "capped",
    "load_config",
    "override_config",
    "parse_yaml",
    "read_yaml",
    "validate_raw",
]

# --------------------------------------------------------------------------- overrides


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str], file: str) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides; the value is parsed as a YAML scalar or flow list.

    Switching a symbol's source (``data.symbols.RUT.source=bundled``) drops the keys only the
    old source had (``ticker``, ``path``, ...): the hint "set data.symbols.RUT to
    {source: bundled}" works when followed literally with ``--set``.
    """
    values: list[tuple[str, Any]] = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                file, item, "override is not KEY=VALUE", "write e.g. --set broker.fee_bps=5"
            )
        key, _, text = item.partition("=")
        key = key.strip()
        _check_key(key, file)
        try:
            value = load_text(text, file, key) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        values.append((key, value))
    return apply_values(raw, values, file)


def apply_values(raw: dict[str, Any], values: Mapping[str, Any] | Iterable[tuple[str, Any]],
                 file: str) -> dict[str, Any]:
    """Apply overrides whose values are already parsed (``{"broker.fee_bps": 5}``): what
    ``--set`` does after parsing each value, for callers that hold typed values (a sweep)."""
    result: dict[str, Any] = _deepcopy(raw)
    items = values.items() if isinstance(values, Mapping) else values
    for key, value in items:
        _check_key(key, file)
        parts = key.split(".")
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(file, key, f"'{part}' is not a mapping", "override a leaf key")
            node = child
        if parts[:2] == ["data", "symbols"] and len(parts) == 4 and parts[3] == "source":
            _drop_other_source_keys(node, value)
        node[parts[-1]] = _deepcopy(value)
    return result


def _check_key(key: str, file: str) -> None:
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(file, key, "empty key segment", "write e.g. strategy.params.x=1")
    if len(parts) > MAX_DEPTH:
        raise ConfigError(file, key, f"nested deeper than {MAX_DEPTH} levels",
                          "override an existing key")


def _source_fields() -> dict[str, set[str]]:
    """Each ``data.symbols.*.source`` value and the keys its model accepts."""
    models = (BundledSource, CsvSource, YFinanceSource, CcxtSource, CacheSource)
    return {get_args(m.model_fields["source"].annotation)[0]: set(m.model_fields)
            for m in models}


def _drop_other_source_keys(node: dict[str, Any], source: Any) -> None:
    """Before ``node["source"] = source``: drop the keys the new source does not know."""
    keys = _source_fields().get(source) if isinstance(source, str) else None
    if keys is None or node.get("source", "bundled") == source:
        return
    for key in [k for k in node if k not in keys]:
        del node[key]


def _deepcopy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value


# --------------------------------------------------------------------------- validation


def load_config(
    path: str | Path,
    overrides: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Read, interpolate, override and validate a run config.

    ``strategy.params`` is validated by the named strategy's own model when the strategy is
    built (``papertrade.runner.build_strategy``): strategies sit above config in the layers.
    """
    file = str(path)
    try:
        raw = read_yaml(Path(path))
        raw = interpolate(raw, file, "", os.environ if env is None else env)
        raw = apply_overrides(raw, overrides, file)
    except ConfigError as exc:
        raise capped(exc) from None
    return validate_raw(raw, file)


def override_config(loaded: LoadedConfig, values: Mapping[str, Any]) -> LoadedConfig:
    """``loaded`` with ``values`` (key path -> parsed value) applied and validated exactly as
    ``--set`` would be: the same one-line :class:`ConfigError` on a bad key or value."""
    try:
        raw = apply_values(loaded.raw, values, loaded.path)
    except ConfigError as exc:
        raise capped(exc) from None
    return validate_raw(raw, loaded.path)


def validate_raw(raw: dict[str, Any], file: str) -> LoadedConfig:
    """Validate an interpolated, overridden raw config read from ``file``."""
    try:
        _check_numbers(raw, file)
        refuse_masked(raw, file)
        try:
            run = RunConfig.model_validate(raw)
        except ValidationError as exc:
            raise format_validation_error(exc, file, RunConfig) from None
        base = Path(file).resolve().parent
        _check_csv_paths(run, file, base)
    except ConfigError as exc:
        raise capped(exc) from None
    return LoadedConfig(path=file, raw=raw, run=run)


def capped(exc: ConfigError) -> ConfigError:
    """The same error, each part folded to one line and cut to a bounded length."""
    return ConfigError(one_line(exc.file, 200), one_line(exc.key, 100),
                       one_line(exc.problem, 200), one_line(exc.fix, 200))


def _check_numbers(raw: Any, file: str) -> None:
    """Every number in the config is finite and within +-MAX_ABS_NUMBER (iterative walk)."""
    pending: list[tuple[str, Any]] = [("", raw)]
    while pending:
        key, value = pending.pop()
        if isinstance(value, dict):
            pending.extend((join_key(key, k), v) for k, v in value.items())
        elif isinstance(value, list):
            pending.extend((f"{key}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(file, key, f"not a finite number (got {value})",
                              "write a finite number, or null where the key allows none")
        elif isinstance(value, int | float) and not isinstance(value, bool) and (
                abs(value) > MAX_ABS_NUMBER):
            raise ConfigError(file, key, f"{_show_number(value)} is out of range",
                              f"use a number between -{MAX_ABS_NUMBER:.0e} and "
                              f"{MAX_ABS_NUMBER:.0e} (papertrade schema gives each key's range)")


def _show_number(value: float) -> str:
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return f"{value:.6g}"


def _check_csv_paths(run: RunConfig, file: str, base: Path) -> None:
    for symbol, source in run.data.symbols.items():
        if isinstance(source, CsvSource):
            try:
                resolved = resolve_path(source.path, base)
                found = resolved.is_file()
            except (OSError, ValueError) as exc:
                raise ConfigError(file, f"data.symbols.{symbol}.path",
                                  f"unusable path ({one_line(str(exc), 80)})",
                                  "fix the path") from None
            if not found:
                raise ConfigError(
                    file, f"data.symbols.{symbol}.path", f"CSV file not found: {resolved}",
                    "fix the path (relative paths are read from the config's folder "
                    "or the working directory)",
                )
