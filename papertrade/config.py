"""YAML -> frozen, typed run configuration.

Loading is strict: YAML syntax errors, duplicate keys, unknown keys and wrong types all raise
:class:`~papertrade.errors.ConfigError` with the file, the dotted key and what to do about it.
``${VAR}`` and ``${VAR:-default}`` are interpolated from the environment in string values;
``--set a.b=value`` overrides are applied before validation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from papertrade.config_models import (
    BrokerConfig,
    BundledSource,
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
from papertrade.util.validation import format_validation_error

__all__ = [
    "BrokerConfig",
    "BundledSource",
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
    "json_schema",
    "load_config",
    "read_yaml",
]

# --------------------------------------------------------------------------- YAML loading


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, "", f"cannot read: {exc}", "pass a UTF-8 YAML file") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
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
    """Apply ``a.b.c=value`` overrides; the value is parsed as a YAML scalar or flow list."""
    result: dict[str, Any] = _deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                file, item, "override is not KEY=VALUE", "write e.g. --set broker.fee_bps=5"
            )
        key, _, text = item.partition("=")
        key = key.strip()
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        parts = key.split(".")
        if not all(parts):
            raise ConfigError(file, key, "empty key segment", "write e.g. strategy.params.x=1")
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(file, key, f"'{part}' is not a mapping", "override a leaf key")
            node = child
        node[parts[-1]] = value
    return result


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
    """Read, interpolate, override and validate a run config (strategy params included)."""
    from papertrade.strategies import (
        get_strategy,  # strategies depend on config, not the reverse at import
    )

    file = str(path)
    raw = read_yaml(Path(path))
    raw = _interpolate(raw, file, "", os.environ if env is None else env)
    raw = apply_overrides(raw, overrides, file)
    try:
        run = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise format_validation_error(exc, file, RunConfig) from None
    strategy_cls = get_strategy(run.strategy.name, file=file)
    strategy_cls.parse_params(run.strategy.params, file=file)
    base = Path(path).resolve().parent
    _check_csv_paths(run, file, base)
    return LoadedConfig(path=file, raw=raw, run=run)


def _check_csv_paths(run: RunConfig, file: str, base: Path) -> None:
    for symbol, source in run.data.symbols.items():
        if isinstance(source, CsvSource):
            resolved = resolve_path(source.path, base)
            if not resolved.is_file():
                raise ConfigError(
                    file, f"data.symbols.{symbol}.path", f"CSV file not found: {resolved}",
                    "fix the path (relative paths are read from the config's folder "
                    "or the working directory)",
                )


def json_schema() -> dict[str, Any]:
    """JSON schema of the run config (strategy params documented per strategy)."""
    from papertrade.strategies import registry

    schema = RunConfig.model_json_schema()
    schema["$comment"] = "strategy.params is validated by the named strategy's Params"
    schema["x-strategy-params"] = {
        name: cls.Params.model_json_schema() for name, cls in sorted(registry().items())
    }
    return schema
