"""Property-based config fuzzing through the real CLI entry point (issue 9, items 6 and 10).

Hypothesis mutates the shipped configs (values of every type and size at existing and new keys,
deleted keys, YAML text corruption, alias bombs, deep nesting, ``--set`` overrides) and runs
``papertrade validate`` in-process on each. Every case must end in exit 0 or in one bounded
``error:`` line with a documented exit code, within 30 s, without a traceback, and without a
file written anywhere. A second property draws configs that are valid by the documented ranges
and requires exit 0; a few of those are backtested on a short window.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.cli_harness import assert_clean_outcome, run_cli, tree
from tests.conftest import CONFIGS

BASES = {name: yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
         for name in ("rut_breakout_rotation", "momentum_rotation", "rut_breakout_btc_only")}
FUZZ = settings(max_examples=320, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a parsed config (mappings and list items)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


PATHS = {name: _paths(base) for name, base in BASES.items()}

SPECIAL_NUMBERS = [0, 1, -1, 2**31, 2**53, 2**63, 2**64, -(2**63), 10**15, 10**16, 10**400,
                   5e-324, 1e-12, 1e12, 1e308, -1e308, math.inf, -math.inf, math.nan, -0.0]
SPECIAL_TEXT = ["x" * 100_000, "${PAPERTRADE_FUZZ_UNSET}", "${PAPERTRADE_FUZZ_UNSET:-7}",
                "${HOME}", "2016-13-01", "2020-01-01", "0001-01-01", "9999-12-31", "all",
                "daily", "weekly", "never", "any", "BTC/USDT", "ETH/USDT", "RUT", "USD", "",
                " ", "\x00", "nan", "inf", "-inf", "1e308", "on", "null", "~", "../../etc",
                "csv", "bundled", "ccxt", "yfinance", "ftp", "é" * 50, "a\nb"]
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(SPECIAL_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(SPECIAL_TEXT),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(
        ["source", "path", "calendar", "ticker", "every", "lookback", "name", "params"])),
        inner, max_size=4)), max_leaves=12)


def _set(config: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _delete(config: dict[str, Any], path: tuple[Any, ...]) -> None:
    node: Any = config
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, list[str]]:
    """YAML text of a mutated shipped config, and extra CLI args (``--set`` overrides)."""
    name = draw(st.sampled_from(sorted(BASES)))
    config: dict[str, Any] = yaml.safe_load(yaml.safe_dump(BASES[name]))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
        paths = _paths(config)
        if kind == "add" or not paths:
            parent = draw(st.sampled_from([p for p in paths if isinstance(
                _get(config, p), dict)] or [()]))
            key = draw(st.one_of(st.text(max_size=12), st.sampled_from(
                ["extra", "symbols", "max_staleness", "emulator", "<<"])))
            target = _get(config, parent) if parent else config
            target[key] = draw(values)
        elif kind == "delete":
            _delete(config, draw(st.sampled_from(paths)))
        else:
            _set(config, draw(st.sampled_from(paths)), draw(values))
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    corruption = draw(st.sampled_from(
        ["none"] * 6 + ["truncate", "insert", "bomb", "deep", "flow-deep", "anchor", "tab"]))
    if corruption == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif corruption == "insert":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(
            [":", "- ", "{", "[", "&a ", "*a", "!!python/object:os.system ", "'", '"', "\t",
             "---\n", "? ", "%YAML 1.1\n", "\x00", "\ufeff"])) + text[at:]
    elif corruption == "bomb":
        levels = draw(st.integers(2, 12))
        bomb = 'b0: &b0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
        bomb += "".join(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 9)}]\n"
                        for i in range(1, levels))
        text += bomb
    elif corruption == "deep":
        depth = draw(st.integers(20, 400))
        text += "".join(f"{' ' * i}d{i}:\n" for i in range(depth)) + " " * depth + "v: 1\n"
    elif corruption == "flow-deep":
        depth = draw(st.integers(20, 5000))
        text += "deep: " + "[" * depth + "]" * depth + "\n"
    elif corruption == "anchor":
        text = "defaults: &d {fee_bps: 1, slippage_bps: 1}\n" + text.replace(
            "broker:\n", "broker:\n  <<: *d\n", 1)
    elif corruption == "tab":
        text = text.replace("  ", "\t", 1)
    overrides: list[str] = []
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(PATHS[name]))
        key = ".".join(str(p) for p in path if not isinstance(p, int)) or "name"
        raw = draw(st.one_of(st.text(max_size=30), st.sampled_from(
            [".inf", ".nan", "1.0e+308", "9223372036854775808", "[" * 50, "{a: [1, {b: *x}]}",
             "&a [*a]", "", "null", "x" * 10_000])))
        overrides += ["--set", f"{key}={raw}"]
    return text, overrides


def _get(config: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        config = config[part]
    return config


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory: nothing may be written there, nor next to the config."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("PAPERTRADE_FUZZ_UNSET", raising=False)
    return tmp_path


@FUZZ
@given(case=mutated())
def test_any_mutated_config_validates_or_fails_as_one_line(
    workspace: Path, capsys: pytest.CaptureFixture[str], case: tuple[str, list[str]]
) -> None:
    text, overrides = case
    config = workspace / "fuzz.yaml"
    config.write_text(text, encoding="utf-8", errors="surrogatepass")
    before = tree(workspace)
    result = run_cli(["validate", str(config), *overrides], capsys)
    assert_clean_outcome(result, text[:2000])
    event(f"exit {result.code}")
    if result.code == 0:
        assert ": ok (" in result.out
    assert tree(workspace) == before


# --------------------------------------------------------------------------- valid by the docs

VALID_KEYS: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("broker", "cash"): st.floats(1, 1e12),
    ("broker", "fee_bps"): st.floats(0, 1000),
    ("broker", "slippage_bps"): st.floats(0, 1000),
    ("data", "start"): st.dates(min_value=dt.date(2016, 1, 1), max_value=dt.date(2025, 12, 31)),
    ("data", "max_staleness", "us_equity"): st.floats(0.01, 3660),
    ("data", "max_staleness", "crypto"): st.floats(0.01, 3660),
    ("strategy", "params", "invest"): st.floats(0.01, 1),
    ("strategy", "params", "breakout", "lookback"): st.one_of(st.just("all"),
                                                              st.integers(1, 5000)),
    ("strategy", "params", "breakout", "min_drought"): st.integers(0, 5000),
    ("strategy", "params", "exit", "below_level_pct"): st.floats(0, 100),
    ("strategy", "params", "exit", "ma_days"): st.integers(2, 1000),
    ("strategy", "params", "rotation", "top_k"): st.integers(1, 8),
    ("strategy", "params", "rotation", "share"): st.floats(0, 1),
    ("strategy", "params", "rotation", "momentum_days"): st.integers(1, 1000),
    ("strategy", "params", "rebalance", "drift"): st.floats(0, 1),
    ("strategy", "params", "rebalance", "every"): st.sampled_from(["daily", "weekly",
                                                                   "on_change"]),
}


@st.composite
def valid_flagship(draw: st.DrawFn) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(yaml.safe_dump(BASES["rut_breakout_rotation"]))
    config["data"].pop("end", None)
    for path in draw(st.lists(st.sampled_from(sorted(VALID_KEYS)), min_size=1, max_size=5,
                              unique=True)):
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        value = draw(VALID_KEYS[path])
        node[path[-1]] = value.isoformat() if hasattr(value, "isoformat") else value
    return config


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=valid_flagship())
def test_configs_valid_by_the_documented_ranges_are_accepted(
    workspace: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any]
) -> None:
    path = workspace / "valid.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_cli(["validate", str(path)], capsys)
    assert result.code == 0, result.err
    assert ": ok (rut_breakout_rotation on RUT, BTC/USDT, ETH/USDT" in result.out


@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=valid_flagship())
def test_a_few_valid_configs_backtest_on_a_short_window(
    workspace: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any]
) -> None:
    runs = workspace / "runs"
    runs.mkdir(exist_ok=True)
    config["runs_dir"] = str(runs)
    config["data"]["start"] = "2024-01-01"
    config["data"]["end"] = "2024-02-29"
    path = workspace / "valid.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    before = tree(workspace, skip=runs)
    folders = set(runs.iterdir())
    result = run_cli(["backtest", str(path), "--no-report"], capsys)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    (new,) = set(runs.iterdir()) - folders
    assert (new / "metrics.json").is_file()
    assert tree(workspace, skip=runs) == before
    assert os.listdir(workspace / "cwd") == []
