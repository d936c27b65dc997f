"""The fast simulator: a backtest's equity, fills and metrics without backtrader or a journal.

:class:`Simulator` loads the config's market data once and keeps what does not depend on the
swept keys: the market arrays per traded universe, the strategy's decisions per strategy-param
set (configs that differ only in broker or risk keys reuse them), the benchmarks per window.
:meth:`Simulator.run` applies overrides exactly as ``backtest --set`` does, asks the strategy
(through :func:`~papertrade.strategies.base.checked_decide`, the backtest's own call) and executes
its decisions with the trading kernel's functions (:mod:`papertrade.sim.execution`).
``tests/test_sim_parity.py`` checks equity, fills and metrics against backtrader.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from papertrade.assembly import build_strategy, load_history, run_identity
from papertrade.config import LoadedConfig, override_config
from papertrade.data.history import MarketHistory
from papertrade.metrics import benchmark_metrics
from papertrade.rebalance import send_threshold
from papertrade.runfolder.export import buy_and_hold_curves, rails_metrics, run_metrics
from papertrade.sim.execution import DecisionArrays, execute
from papertrade.sim.market import MarketArrays
from papertrade.strategies import Strategy
from papertrade.strategies.base import checked_decide, scheduled_labels

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Lru(Generic[K, V]):
    """A small least-recently-used cache: memory stays flat however many configs run.
    Thread-safe (a Dask worker may run several tasks at once on one simulator)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[K, V] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
            return value

    def __getstate__(self) -> dict[str, Any]:
        return {"size": self.size, "items": self.items}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.size, self.items, self.lock = state["size"], state["items"], threading.Lock()


@dataclass(frozen=True)
class SimResult:
    """One simulated run, as the backtest would have written it.

    ``equity``: ``equity.csv`` (index: the bar dates, a DatetimeIndex named ``date``);
    ``fills``: ``trades.csv``'s rows and columns; ``metrics``: ``metrics.json``.
    """

    equity: pd.Series
    fills: pd.DataFrame
    metrics: dict[str, Any]


@dataclass(frozen=True)
class _Data:
    history: MarketHistory
    origins: dict[str, dict[str, object]]


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class Simulator:
    """Backtests of one config under many overrides, each exactly as ``papertrade backtest``
    with ``--set`` would run it (see the module doc). Picklable: an unpickled simulator is
    rebuilt once per process and shared by every task that process runs."""

    def __init__(self, loaded: LoadedConfig, *, start: dt.date | None = None,
                 end: dt.date | None = None, strategy_paths: Sequence[Path] = ()) -> None:
        if start and end and start > end:
            from papertrade.errors import ConfigError

            raise ConfigError(loaded.path, "--start", f"{start} is after --end {end}",
                              "pass a start before the end")
        self.loaded = loaded
        self.start, self.end = start, end
        self.strategy_paths = tuple(Path(p) for p in strategy_paths)
        self._strategies: _Lru[str, Strategy] = _Lru(512)
        self._data_keys: _Lru[int, tuple[Strategy, str]] = _Lru(512)
        self._data: _Lru[str, _Data] = _Lru(4)
        self._markets: _Lru[str, MarketArrays] = _Lru(8)
        self._decisions: _Lru[str, DecisionArrays] = _Lru(64)
        self._benchmarks: _Lru[str, tuple[dict[str, pd.Series], dict[str, Any]]] = _Lru(16)
        self.decide(None)  # the base config's data and decisions, once

    # ------------------------------------------------------------------ pickling

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_shared, (self.loaded, self.start, self.end, self.strategy_paths))

    # ------------------------------------------------------------------ public

    def configure(self, overrides: Mapping[str, Any] | None = None
                  ) -> tuple[LoadedConfig, Strategy]:
        """The config and strategy ``overrides`` make, validated as ``backtest --set``
        validates them (a bad key or value: the same one-line ConfigError). Cheap: a sweep
        checks every grid point with it before running any."""
        loaded = override_config(self.loaded, overrides) if overrides else self.loaded
        key = _key([loaded.run.strategy.model_dump(mode="json"), loaded.run.data.model_dump(
            mode="json"), loaded.run.broker.quote])
        strategy = self._strategies.get(key)
        if strategy is None:
            strategy = self._strategies.put(key, build_strategy(loaded, self.strategy_paths))
        return loaded, strategy

    def decide(self, overrides: Mapping[str, Any] | None = None) -> DecisionArrays:
        """The strategy's decisions under ``overrides`` (cached by strategy params and data)."""
        loaded, strategy = self.configure(overrides)
        return self._decisions_of(loaded, strategy)

    def run(self, overrides: Mapping[str, Any] | None = None) -> SimResult:
        """Simulate the config with ``overrides`` (key path -> parsed value) applied. Pure:
        the same overrides give the same result."""
        loaded, strategy = self.configure(overrides)
        run = loaded.run
        data = self._history(loaded, strategy)
        market = self._market(loaded, strategy)
        decisions = self._decisions_of(loaded, strategy)
        # the backtest's run hash (its folder's suffix) tags its client order ids
        tag = run_identity(loaded, strategy, self.strategy_paths, self.start, self.end,
                           market.labels, data.origins).digest[:6]
        done = execute(market, decisions, run, tag)
        curves, stats = self._benchmark(loaded, strategy, market)
        fills = done.fills_frame()
        metrics = run_metrics(done.equity, done.cash, market.labels, fills, curves,
                              rebalances=done.rebalances, rejected=done.rejected,
                              rails=rails_metrics(done.rail_cuts, done.kill_switch),
                              benchmark_stats=stats)
        equity = pd.Series(done.equity, index=market.labels.rename("date"), name="equity")
        return SimResult(equity=equity, fills=fills, metrics=metrics)

    # ------------------------------------------------------------------ shared pieces

    def _data_key(self, loaded: LoadedConfig, strategy: Strategy) -> str:
        found = self._data_keys.get(id(strategy))
        if found is None or found[0] is not strategy:
            symbols = [*strategy.symbol_keys().values(), *strategy.benchmark_symbols()]
            key = _key([loaded.run.data.model_dump(mode="json"), sorted(set(symbols)),
                        strategy.traded_symbols()])
            found = self._data_keys.put(id(strategy), (strategy, key))
        return found[1]

    def _history(self, loaded: LoadedConfig, strategy: Strategy) -> _Data:
        key = self._data_key(loaded, strategy)
        data = self._data.get(key)
        if data is None:
            history, origins = load_history(loaded, strategy, self.start, self.end)
            data = self._data.put(key, _Data(history, origins))
        return data

    def _market(self, loaded: LoadedConfig, strategy: Strategy) -> MarketArrays:
        key = self._data_key(loaded, strategy)
        market = self._markets.get(key)
        if market is None:
            market = self._markets.put(key, MarketArrays.build(
                self._history(loaded, strategy).history, strategy.traded_symbols()))
        return market

    def _decisions_of(self, loaded: LoadedConfig, strategy: Strategy) -> DecisionArrays:
        key = _key([self._data_key(loaded, strategy), strategy.name,
                    strategy.params.model_dump(mode="json")])
        found = self._decisions.get(key)
        if found is not None:
            return found
        history = self._history(loaded, strategy).history
        decided = checked_decide(strategy, history, targets=True)
        policy = strategy.rebalance
        # scheduled_days(history, policy), on the labels the market arrays hold already
        scheduled = scheduled_labels(self._market(loaded, strategy).labels, policy)
        events = decided.events.to_numpy(dtype=object)
        evented = events != ""
        thresholds = np.full(len(events), np.nan)
        for has_event, on_schedule in itertools.product((False, True), repeat=2):
            threshold = send_threshold("event" if has_event else "", on_schedule, policy)
            if threshold is not None:
                thresholds[(evented == has_event) & (scheduled == on_schedule)] = threshold
        arrays = DecisionArrays(weights=decided.weights.to_numpy(dtype=float),
                                events=tuple(events.tolist()), scheduled=scheduled,
                                thresholds=thresholds, policy=policy)
        return self._decisions.put(key, arrays)

    def _benchmark(self, loaded: LoadedConfig, strategy: Strategy, market: MarketArrays
                   ) -> tuple[dict[str, pd.Series], dict[str, Any]]:
        key = _key([self._data_key(loaded, strategy), loaded.run.broker.cash])
        found = self._benchmarks.get(key)
        if found is None:
            history = self._history(loaded, strategy).history
            curves = buy_and_hold_curves(history.dated_closes(strategy.benchmark_symbols()),
                                         loaded.run.broker.cash, market.labels)
            found = self._benchmarks.put(key, (curves, benchmark_metrics(curves)))
        return found


_PROCESS_SIMULATORS: _Lru[str, Simulator] = _Lru(4)


def _shared(loaded: LoadedConfig, start: dt.date | None, end: dt.date | None,
            strategy_paths: tuple[Path, ...]) -> Simulator:
    """The process's simulator of these arguments: built (data loaded) once per process."""
    key = _key([loaded.path, loaded.raw, str(start), str(end), [str(p) for p in strategy_paths]])
    found = _PROCESS_SIMULATORS.get(key)
    if found is None:
        found = _PROCESS_SIMULATORS.put(key, Simulator(loaded, start=start, end=end,
                                                       strategy_paths=strategy_paths))
    return found
