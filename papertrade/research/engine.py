"""What a sweep runs each config through: an :class:`Engine` (data loaded once, many runs).

``backtrader`` runs the real backtest (:func:`papertrade.runner.run_backtest`) into a
temporary runs folder and reads its ``equity.csv``, ``trades.csv`` and ``metrics.json`` back:
slow (about a second per config), but it *is* the backtest, so any sweep row can be replayed
and checked against it. ``sim`` (the default) is the fast array simulator (:mod:`papertrade.sim`,
verified against backtrader), with the same interface.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import pandas as pd

from papertrade.config import LoadedConfig, override_config

ENGINES: Final = ("sim", "backtrader")
DEFAULT_ENGINE: Final = "sim"


class Result(Protocol):
    """One run's outputs, as a run folder holds them."""

    @property
    def equity(self) -> pd.Series:
        """equity.csv: equity by bar date."""

    @property
    def fills(self) -> pd.DataFrame:
        """trades.csv."""

    @property
    def metrics(self) -> dict[str, Any]:
        """metrics.json."""


class Engine(Protocol):
    """Runs the base config with some keys overridden; market data is loaded once."""

    def run(self, overrides: Mapping[str, Any] | None = None) -> Result:
        """Run the base config with ``{key path: parsed value}`` applied."""
        ...


@dataclass(frozen=True)
class RunOutput:
    """A :class:`Result` read back from a run folder."""

    equity: pd.Series
    fills: pd.DataFrame
    metrics: dict[str, Any]


def read_outputs(folder: Path) -> RunOutput:
    """``equity.csv``, ``trades.csv`` and ``metrics.json`` of a run folder."""
    frame = pd.read_csv(folder / "equity.csv")
    equity = pd.Series(frame["equity"].to_numpy(dtype=float),
                       index=pd.DatetimeIndex(frame["date"]), name="equity")
    fills = pd.read_csv(folder / "trades.csv")
    metrics = json.loads((folder / "metrics.json").read_text())
    return RunOutput(equity, fills, metrics)


class BacktraderEngine:
    """The real backtest, one temporary run folder per config (deleted after reading)."""

    def __init__(self, loaded: LoadedConfig, *, start: dt.date | None = None,
                 end: dt.date | None = None, strategy_paths: Sequence[Path] = ()) -> None:
        self.loaded = loaded
        self.start, self.end = start, end
        self.strategy_paths = list(strategy_paths)

    def run(self, overrides: Mapping[str, Any] | None = None) -> RunOutput:
        """Backtest the base config with ``overrides``; nothing is left on disk."""
        from papertrade.runner import run_backtest

        scratch = Path(tempfile.mkdtemp(prefix="papertrade-sweep-"))
        try:
            loaded = override_config(self.loaded, {**(overrides or {}), "runs_dir": str(scratch)})
            result = run_backtest(loaded, start=self.start, end=self.end, report=False,
                                  strategy_paths=self.strategy_paths)
            return read_outputs(result.folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


@dataclass(frozen=True)
class EngineSpec:
    """Everything a worker needs to build an engine (pickled to Dask workers once)."""

    kind: str
    loaded: LoadedConfig
    strategy_paths: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    _key: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        """A short digest naming this spec (the worker-side cache key)."""
        payload = json.dumps([self.kind, self.loaded.path, self.loaded.raw,
                              self.strategy_paths, str(self.start), str(self.end)],
                             sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def build(self, start: dt.date | None = None, end: dt.date | None = None) -> Engine:
        """An engine over ``[start, end]`` (default: the spec's window)."""
        start = start or self.start
        end = end or self.end
        paths = [Path(p) for p in self.strategy_paths]
        if self.kind == "sim":
            from papertrade.sim import Simulator

            return Simulator(self.loaded, start=start, end=end, strategy_paths=paths)
        if self.kind == "backtrader":
            return BacktraderEngine(self.loaded, start=start, end=end, strategy_paths=paths)
        raise ValueError(f"unknown engine {self.kind!r}")
