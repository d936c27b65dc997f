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
import re
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
from papertrade.errors import ConfigError
from papertrade.util.paths import resolve_path
from papertrade.util.secrets import refuse_masked
from papertrade.util.text import one_line
from papertrade.util.validation import format_validation_error

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
    "read_yaml",
    "validate_raw",
]

# --------------------------------------------------------------------------- YAML loading

MAX_CONFIG_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 10_000
MAX_ABS_NUMBER = 10**15


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool | None):
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a plain value, not a {type(key).__name__}",
                key_node.start_mark,
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key '{key}' (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


# Dates stay strings here: pydantic parses them and names the key when one is invalid
# (PyYAML's own timestamp constructor raises a bare ValueError on 2016-13-01).
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _check_shape(text: str, file: str, where: str = "") -> None:
    """Refuse YAML nested deeper than MAX_DEPTH, whose aliases add more than MAX_NODES nodes
    to those written out (a long written list is fine: the file's size bounds it), or
    recursive (an alias inside the value it names).

    Runs on the parser's event stream (no recursion, nothing expanded): each anchor's expanded
    size and height are known when it closes, so an alias costs what it would expand to.
    """
    stack: list[list[Any]] = []  # [anchor, expanded size, height] of each open collection
    anchors: dict[str, tuple[int, int]] = {}
    done = 0  # expanded size of the closed top-level nodes
    written = 0  # nodes written out in the text (a long list is no bomb: the file is bounded)

    def refuse(event: yaml.Event, problem: str, fix: str) -> ConfigError:
        mark = event.start_mark
        return ConfigError(file, where or (f"line {mark.line + 1}" if mark else ""), problem, fix)

    for event in yaml.parse(text, Loader=_StrictLoader):
        written += isinstance(event, yaml.NodeEvent)
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1, 1])
            if len(stack) > MAX_DEPTH:
                raise refuse(event, f"nested deeper than {MAX_DEPTH} levels",
                             "flatten the structure")
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size, height = stack.pop()
            if anchor:
                anchors[anchor] = (size, height)
        elif isinstance(event, yaml.ScalarEvent):
            size, height = 1, 0
            if event.anchor:
                anchors[event.anchor] = (1, 0)
        elif isinstance(event, yaml.AliasEvent):
            if any(entry[0] == event.anchor for entry in stack):
                raise refuse(event, f"the alias *{one_line(str(event.anchor), 40)} refers to a "
                             "value that contains it (a recursive structure)",
                             "write the values out")
            size, height = anchors.get(event.anchor or "", (1, 0))
        else:
            continue
        if len(stack) + height > MAX_DEPTH:
            raise refuse(event, f"nested deeper than {MAX_DEPTH} levels (through an alias)",
                         "flatten the structure")
        if stack:
            stack[-1][1] += size
            stack[-1][2] = max(stack[-1][2], height + 1)
        else:
            done += size
        if done + sum(entry[1] for entry in stack) > written + MAX_NODES:
            raise refuse(event, f"expands to more than {MAX_NODES:,} values (YAML aliases)",
                         "write the values out instead of nesting aliases")


def _load_text(text: str, file: str, where: str = "") -> Any:
    """Parse YAML text with the strict loader once its shape is known to be bounded."""
    _check_shape(text, file, where)
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. int('9' * 5000)
        raise ConfigError(file, where, f"YAML value cannot be read ({one_line(str(exc), 80)})",
                          "fix the value") from None


def _interpolate(value: Any, file: str, key: str, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, file, _join(key, k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, file, f"{key}[{i}]", env) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            file, key, f"environment variable {name} is not set",
            f"export {name}=... or write ${{{name}:-default}}",
        )

    return _ENV_PATTERN.sub(replace, value)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping strictly; every failure is a one-line ConfigError."""
    file = str(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(file, "", f"larger than {MAX_CONFIG_BYTES:,} bytes",
                              "a run config is a few hundred lines at most")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found", "check the path") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(file, "", f"cannot read: {one_line(str(exc), 120)}",
                          "pass a UTF-8 YAML file") from None
    return parse_yaml(text, file)


def parse_yaml(text: str, file: str) -> dict[str, Any]:
    """Parse a YAML mapping strictly and bounded; every failure a one-line ConfigError."""
    try:
        data = _load_text(text, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = (exc.problem or str(exc)).strip()
        raise ConfigError(
            file, where, f"YAML syntax: {problem}", "fix the YAML at that position"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, "", f"YAML: {exc}", "fix the YAML") from None
    if data is None:
        raise ConfigError(file, "", "the file is empty", "see configs/ for examples")
    if not isinstance(data, dict):
        raise ConfigError(
            file, "", f"top level is a {type(data).__name__}, not a mapping",
            "write 'key: value' pairs (see configs/)",
        )
    return data


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
            value = _load_text(text, file, key) if text.strip() else ""
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
        raw = _interpolate(raw, file, "", os.environ if env is None else env)
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
            pending.extend((_join(key, k), v) for k, v in value.items())
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
