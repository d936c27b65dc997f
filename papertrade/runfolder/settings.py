"""A run's settings (its ``config.yaml``) as dotted keys, what differs between runs, and the
data it read (the manifest's ``data`` origins).

``config.yaml`` is the effective configuration of the run (every default, ``--set`` and
``--start/--end`` applied); older runs hold the file as written. Keys are dotted paths
(``strategy.params.exit.ma_days``); lists stay one value. The YAML is read like a config
(bounded: no alias bombs), lazily, so ``runs list`` without ``--show`` never parses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from papertrade.runfolder.files import read_bytes
from papertrade.runfolder.layout import CONFIG
from papertrade.runfolder.read import RunHeader
from papertrade.util.text import one_line

#: the prefix a label drops: ``exit.ma_days=100`` reads better than the full key
PARAMS_PREFIX: Final = "strategy.params."
#: sections of the Configuration table, in order; other keys follow under "other"
SECTIONS: Final = ("strategy", "data", "broker", "risk", "live")


def read_settings(folder: Path) -> tuple[dict[str, Any], str]:
    """(dotted key -> value, problem) of ``folder/config.yaml``; problem is '' when read."""
    from papertrade.config_yaml import MAX_CONFIG_BYTES, parse_yaml
    from papertrade.errors import ConfigError

    raw, problem = read_bytes(folder / CONFIG, MAX_CONFIG_BYTES)
    if raw is None:
        return {}, problem
    try:
        parsed = parse_yaml(raw.decode("utf-8"), CONFIG)
    except UnicodeDecodeError:
        return {}, f"{CONFIG} is not UTF-8 text"
    except ConfigError as exc:
        return {}, one_line(f"{CONFIG} unreadable: {exc.problem}", 160)
    return flatten(parsed), ""


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": 1, "c": [1, 2]}`` (an empty mapping is a
    value: ``data.symbols: {}`` stays visible)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.update(flatten(item, f"{path}."))
        else:
            out[path] = item
    return out


_MISSING: Final = object()


def differing(settings: Sequence[Mapping[str, Any]]) -> list[str]:
    """Keys whose values are not the same in every run (absent counts as a value), in the
    order the first run that has them lists them."""
    keys = list(dict.fromkeys(k for one in settings for k in one))
    return [k for k in keys
            if len({format_value(one.get(k, _MISSING)) for one in settings}) > 1]


def format_value(value: Any) -> str:
    """A setting's value on one line, YAML-like (``null``, ``true``, ``[a, b]``)."""
    if value is _MISSING:
        return "(unset)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return one_line(str(value), 200)


def value_of(settings: Mapping[str, Any], key: str) -> str:
    """``key``'s formatted value, ``(unset)`` when the run has no such key."""
    return format_value(settings.get(key, _MISSING))


def short_key(key: str) -> str:
    """``strategy.params.exit.ma_days`` -> ``exit.ma_days``; other keys as they are."""
    return key[len(PARAMS_PREFIX):] if key.startswith(PARAMS_PREFIX) else key


def describe(settings: Mapping[str, Any], keys: Iterable[str], limit: int = 60) -> str:
    """A run named by its values of ``keys``: ``exit.ma_days=100, data.start=2020-01-01``."""
    text = ", ".join(f"{short_key(k)}={value_of(settings, k)}" for k in keys)
    return one_line(text, limit)


def run_labels(headers: Sequence[RunHeader], settings: Sequence[Mapping[str, Any]],
               limit: int = 60) -> list[str]:
    """Each run named by the settings that differ (``exit.ma_days=100``); by its name and the
    end of its id when none differ, or when two runs would get the same label."""
    keys = differing(settings)
    labels = [describe(one, keys, limit) if keys else "" for one in settings]
    for i, h in enumerate(headers):
        if not labels[i] or labels.count(labels[i]) > 1:
            labels[i] = f"{labels[i] + ' ' if labels[i] else ''}{h.name or h.run_id} " \
                        f"…{h.run_id[-8:]}"
    return labels


def sections(settings: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(key within it, value)]) in :data:`SECTIONS` order, then ``other``."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for key, value in settings.items():
        head, _, rest = key.partition(".")
        section = head if head in SECTIONS and rest else "other"
        grouped.setdefault(section, []).append((rest if section != "other" else key,
                                                format_value(value)))
    return [(name, grouped[name]) for name in (*SECTIONS, "other") if name in grouped]


@dataclass(frozen=True)
class DataOrigin:
    """One symbol a run read: where from and which bars the source held."""

    symbol: str
    source: str
    first: str
    last: str
    rows: str


def data_origins(manifest: Mapping[str, Any] | None) -> list[DataOrigin]:
    """The manifest's ``data`` entries (every symbol the run read), in manifest order."""
    data = (manifest or {}).get("data")
    if not isinstance(data, Mapping):
        return []
    out = []
    for symbol, origin in data.items():
        entry = origin if isinstance(origin, Mapping) else {}

        def text(key: str, entry: Mapping[str, Any] = entry) -> str:
            value = entry.get(key)
            return "" if value is None else one_line(str(value), 40)

        out.append(DataOrigin(one_line(str(symbol), 40), text("source"), text("first"),
                              text("last"), text("rows")))
    return out


def last_bars(origins: Sequence[DataOrigin]) -> list[tuple[str, str, list[str]]]:
    """(last bar, source, symbols) groups, oldest last bar first: the stalest data leads."""
    groups: dict[tuple[str, str], list[str]] = {}
    for origin in origins:
        groups.setdefault((origin.last or "?", origin.source or "?"), []).append(origin.symbol)
    return [(last, source, symbols) for (last, source), symbols in sorted(groups.items())]
