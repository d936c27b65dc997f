"""The flagship's weights and events on arrays, for sweeps: what :class:`.rut_breakout_scan.Scan`
decides, without its reasons and inputs, at a fraction of its cost.

The scan walks every moment of the signal and every decision time in Python; a sweep asks the
same history thousands of times with other parameters. Here the pieces that depend on one
parameter only (prior high and drought by ``breakout.lookback``, the moments by
``breakout.confirm``, the moving average by ``exit.ma_days``, the trigger by
``rotation.trigger``/``trigger_days``, the alts' momentum ranks by ``rotation.momentum_days``)
are memoised per history, and the two state machines run episode by episode:

- the regime jumps from one entry candidate (a confirmed close above the prior high after the
  drought) to the first failure after it, and back;
- the rotation starts at the first triggered bar of each episode and re-ranks on scheduled
  bars (or when a held alt has no close), held alts being constant in between.

Pure and causal like the scan (a memoised value is a function of the history and the
parameters it is keyed by); ``tests/sim/test_fast_targets.py`` checks weights and events equal
the scan's for random parameters.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from papertrade.data.history import MarketHistory
from papertrade.strategies.base import Decisions, scheduled_days
from papertrade.strategies.signals import confirmation_points, drought, prior_high, returns

if TYPE_CHECKING:
    from papertrade.strategies.rut_breakout_rotation import RutBreakoutRotation

T = TypeVar("T")
_DAY_NS = pd.Timedelta(days=1).value
_MEMO: OrderedDict[int, tuple[MarketHistory, OrderedDict[Any, Any]]] = OrderedDict()
_MEMO_HISTORIES = 4
_MEMO_VALUES = 512  # per history, least recently used first out: memory stays bounded
_LOCK = threading.Lock()


def memo(history: MarketHistory, key: Any, compute: Callable[[], T]) -> T:
    """``compute()`` once per ``history`` (the object) and ``key``: a pure function of both.
    Thread-safe: two threads may both compute a value, never see a half-built one."""
    with _LOCK:
        found = _MEMO.get(id(history))
        if found is None or found[0] is not history:
            found = _MEMO[id(history)] = (history, OrderedDict())
            while len(_MEMO) > _MEMO_HISTORIES:
                _MEMO.popitem(last=False)
        _MEMO.move_to_end(id(history))
        values = found[1]
        if key in values:
            values.move_to_end(key)
            return values[key]  # type: ignore[no-any-return]
    value = compute()
    with _LOCK:
        values[key] = value
        while len(values) > _MEMO_VALUES:
            values.popitem(last=False)
    return value


@dataclass(frozen=True)
class _Signal:
    """The signal's bars as arrays, and its moments (session closes and confirmation points)
    in processing order."""

    times: np.ndarray  # ns, per row
    close: np.ndarray
    moment_time: np.ndarray  # ns, per moment
    moment_row: np.ndarray
    session: np.ndarray  # bool per moment: the row's own close
    confirm: np.ndarray  # bool per moment: the row's confirmation point


def _signal(history: MarketHistory, symbol: str, confirm: str) -> _Signal:
    native = history.native(symbol)
    times = pd.DatetimeIndex(native.index).as_unit("ns").asi8
    points = confirmation_points(native["date"].reset_index(drop=True),
                                 pd.DatetimeIndex(native.index), confirm)  # type: ignore[arg-type]
    rows = points.index.to_numpy(dtype=np.int64)
    at = pd.DatetimeIndex(points).as_unit("ns").asi8
    all_rows = np.concatenate([np.arange(len(times)), rows])
    all_times = np.concatenate([times, at])
    order = np.lexsort((all_rows, all_times))
    all_rows, all_times = all_rows[order], all_times[order]
    keep = np.ones(len(all_rows), dtype=bool)  # one moment per (time, row)
    keep[1:] = (all_rows[1:] != all_rows[:-1]) | (all_times[1:] != all_times[:-1])
    all_rows, all_times = all_rows[keep], all_times[keep]
    confirm_time = np.full(len(times), -1, dtype=np.int64)
    confirm_time[rows] = at
    return _Signal(times=times, close=native["close"].to_numpy(dtype=float),
                   moment_time=all_times, moment_row=all_rows,
                   session=times[all_rows] == all_times,
                   confirm=confirm_time[all_rows] == all_times)


@dataclass(frozen=True)
class _Regime:
    """The regime's episodes: the moments of each entry and of each exit, ascending."""

    starts: np.ndarray
    stops: np.ndarray


def _regime(strategy: RutBreakoutRotation, history: MarketHistory) -> _Regime:
    p = strategy.params
    sig = memo(history, ("signal", p.signal, p.breakout.confirm),
               lambda: _signal(history, p.signal, p.breakout.confirm))
    close_series = pd.Series(sig.close)

    def level_of() -> np.ndarray:
        return np.asarray(prior_high(close_series, p.breakout.lookback).to_numpy())

    level = memo(history, ("level", p.signal, p.breakout.lookback), level_of)
    dry = memo(history, ("drought", p.signal, p.breakout.lookback),
               lambda: drought(close_series, pd.Series(level)).to_numpy())
    ma_days = p.exit.ma_days
    ma = memo(history, ("ma", p.signal, ma_days),
              lambda: close_series.rolling(ma_days).mean().to_numpy() if ma_days
              else np.full(len(sig.close), np.nan))
    rows = sig.moment_row
    close, lvl, mav = sig.close[rows], level[rows], ma[rows]
    with np.errstate(invalid="ignore"):
        can_enter = sig.confirm & (close > lvl) & (dry[rows] >= p.breakout.min_drought)
    entry_at = np.flatnonzero(can_enter)
    below = p.exit.below_level_pct
    hold = pd.Timedelta(days=p.exit.min_hold_days).value
    n = len(rows)
    starts: list[int] = []
    stops: list[int] = []
    pos = 0
    while True:
        found = int(np.searchsorted(entry_at, pos))
        if found >= len(entry_at):
            break
        enter = int(entry_at[found])
        starts.append(enter)
        entered, entry_level = int(sig.moment_time[enter]), float(lvl[enter])
        exit_level = entry_level * (1 - below / 100) if below is not None else math.nan
        leave = _first_failure(strategy, sig, close, mav, enter + 1, n, entered + hold,
                               exit_level)
        if leave < 0:
            break
        stops.append(leave)
        pos = leave + 1
    return _Regime(starts=np.asarray(starts, dtype=np.int64),
                   stops=np.asarray(stops, dtype=np.int64))


def _first_failure(strategy: RutBreakoutRotation, sig: _Signal, close: np.ndarray,
                   ma: np.ndarray, start: int, stop: int, not_before: int,
                   exit_level: float) -> int:
    """The first moment in [start, stop) at which the breakout fails (-1: none)."""
    p = strategy.params.exit
    size = 256
    lo = start
    while lo < stop:
        hi = min(stop, lo + size)
        size *= 4
        c = close[lo:hi]
        with np.errstate(invalid="ignore"):
            checks = []
            if p.below_level_pct is not None:
                checks.append(c < exit_level)
            if p.ma_days is not None:
                checks.append(c < ma[lo:hi])
            failed = (np.logical_or.reduce(checks) if p.require == "any"
                      else np.logical_and.reduce(checks))
        hit = np.flatnonzero(failed & sig.session[lo:hi] & (sig.moment_time[lo:hi] >= not_before))
        if len(hit):
            return lo + int(hit[0])
        lo = hi
    return -1


def _ranks(alt_closes: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the alts by momentum, best first, ties in config order (``_top_alts``'s
    order), and how many have a momentum."""
    mom = returns(alt_closes, days)
    missing = np.isnan(mom)
    order = np.argsort(np.where(missing, np.inf, -mom), axis=1, kind="stable")
    return order, (~missing).sum(axis=1)


def targets(strategy: RutBreakoutRotation, history: MarketHistory) -> Decisions:
    """The scan's weights and events over ``history`` (reasons and inputs left blank)."""
    p, rot = strategy.params, strategy.params.rotation
    clock = history.clock
    cols = strategy.traded_symbols()

    def closes_of() -> np.ndarray:
        return np.asarray(history.closes(cols).to_numpy(dtype=float)).reshape(len(clock),
                                                                           len(cols))

    closes = memo(history, ("closes", tuple(cols)), closes_of)
    btc, alt_closes = closes[:, 0], closes[:, 1:]
    trig = memo(history, ("trigger", tuple(cols), rot.trigger, rot.trigger_days),
                lambda: strategy._trigger(btc, alt_closes, rot))
    order, valid = memo(history, ("ranks", tuple(cols), rot.momentum_days),
                        lambda: _ranks(alt_closes, rot.momentum_days))
    regime = memo(history, ("regime", p.signal, p.breakout, p.exit),
                  lambda: _regime(strategy, history))
    sig = memo(history, ("signal", p.signal, p.breakout.confirm),
               lambda: _signal(history, p.signal, p.breakout.confirm))
    fresh = memo(history, ("fresh", p.signal), lambda: history.fresh(p.signal, clock))
    now = clock.as_unit("ns").asi8
    done = np.searchsorted(sig.moment_time, now, side="right") - 1
    seen = (done >= 0) & fresh
    at = np.maximum(done, 0)
    # entries and exits processed by each decision time, and when the last entry was
    entries = np.where(seen, np.searchsorted(regime.starts, at, side="right"), 0)
    exits = np.where(seen, np.searchsorted(regime.stops, at, side="right"), 0)
    last_entry = regime.starts[np.maximum(entries - 1, 0)] if len(regime.starts) else at
    entry_time = np.where(entries > 0, sig.moment_time[last_entry], -1)
    in_market = entries > exits
    n = len(clock)
    prev_e = np.concatenate(([entries[0] - int(in_market[0])], entries[:-1])) if n else entries
    prev_x = np.concatenate(([exits[0]], exits[:-1])) if n else exits
    breakout = entries > prev_e
    exit_ = ~breakout & (exits > prev_x)
    events = np.full(n, "", dtype=object)
    events[breakout], events[exit_] = "breakout", "exit"
    days_in = np.where(in_market, (now - entry_time) / _DAY_NS, 0.0)
    scheduled = memo(history, ("scheduled", p.rebalance),
                     lambda: scheduled_days(history, p.rebalance))
    can_rotate = (in_market & (days_in >= strategy._min_days_for_trigger()) & trig
                  if rot.share > 0 else np.zeros(n, dtype=bool))
    held = _held_alts(strategy, in_market, breakout | exit_, can_rotate, scheduled,
                      np.isnan(alt_closes), order, valid, events)
    weights = _weights(strategy, cols, btc, in_market, held)
    return Decisions.build(pd.DataFrame(weights, index=clock, columns=cols),
                           events=pd.Series(events, index=clock, dtype=object))


def _held_alts(strategy: RutBreakoutRotation, in_market: np.ndarray, resets: np.ndarray,
               can_rotate: np.ndarray, scheduled: np.ndarray, alt_missing: np.ndarray,
               order: np.ndarray, valid: np.ndarray, events: np.ndarray
               ) -> list[tuple[int, int, tuple[int, ...] | None]]:
    """Runs ``(first row, end row, alts held)`` of in-market rows; None: not rotated.
    Marks rotation events in ``events``."""
    top_k = strategy.params.rotation.top_k
    n = len(in_market)

    def top(k: int) -> tuple[int, ...]:
        return tuple(int(j) for j in order[k, :min(top_k, int(valid[k]))])

    bounds = np.concatenate(([0], np.flatnonzero(resets), [n]))
    runs: list[tuple[int, int, tuple[int, ...] | None]] = []
    for lo, hi in itertools.pairwise(bounds.tolist()):
        if lo == hi:
            continue
        start = np.flatnonzero(can_rotate[lo:hi])
        first = hi if not len(start) else lo + int(start[0])
        runs.append((int(lo), int(first), None))
        if first == hi:
            continue
        events[first] = events[first] or "rotate"
        held = top(first)
        run_start, pos = first, first + 1
        while pos < hi:  # the next re-ranking bar: scheduled, or a held alt without a close
            due = np.asarray(scheduled[pos:hi]).copy()
            if held:
                due |= alt_missing[pos:hi][:, list(held)].any(axis=1)
            changed = False
            for k in (pos + np.flatnonzero(due & in_market[pos:hi])).tolist():
                picked = top(k)
                if picked != held:
                    runs.append((run_start, k, held))
                    held, run_start, pos, changed = picked, k, k + 1, True
                    break
            if not changed:
                break
        runs.append((run_start, int(hi), held))
    return runs


def _weights(strategy: RutBreakoutRotation, cols: list[str], btc: np.ndarray,
             in_market: np.ndarray, held: list[tuple[int, int, tuple[int, ...] | None]]
             ) -> np.ndarray:
    """``_weights_row`` of every in-market row, run by run."""
    p = strategy.params
    weights = np.zeros((len(btc), len(cols)))
    btc_missing = np.isnan(btc)
    for lo, hi, alts in held:
        if lo >= hi:
            continue
        names = alts or ()
        rows = np.arange(lo, hi)[in_market[lo:hi]]
        if not len(rows):
            continue
        alt_share = p.rotation.share if names else 0.0
        weights[rows, 0] = np.where(btc_missing[rows], 0.0, p.invest * (1 - alt_share))
        for j in names:
            weights[rows, 1 + j] = p.invest * alt_share / len(names)
    return weights
