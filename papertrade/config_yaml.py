"""Strict, bounded YAML reading for run configs.

A config file larger than 1 MB, nested deeper than 32 levels, whose YAML aliases would add more
than 10,000 nodes to those written out (an "alias bomb") or refer to themselves is refused
*before* it is expanded; duplicate keys are refused; ``${VAR}`` and ``${VAR:-default}`` are
interpolated from the environment. Every failure is a one-line
:class:`~papertrade.errors.ConfigError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from papertrade.errors import ConfigError
from papertrade.util.text import one_line

MAX_CONFIG_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 10_000


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


def load_text(text: str, file: str, where: str = "") -> Any:
    """Parse YAML text with the strict loader once its shape is known to be bounded."""
    _check_shape(text, file, where)
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. int('9' * 5000)
        raise ConfigError(file, where, f"YAML value cannot be read ({one_line(str(exc), 80)})",
                          "fix the value") from None


def interpolate(value: Any, file: str, key: str, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: interpolate(v, file, join_key(key, k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, file, f"{key}[{i}]", env) for i, v in enumerate(value)]
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


def join_key(prefix: str, key: Any) -> str:
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
        data = load_text(text, file)
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
