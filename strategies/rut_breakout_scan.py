"""The flagship's decisions as a resumable scan (see :mod:`.rut_breakout_rotation`).

Two state machines run forward in time and can stop and resume at any decision time:

- :class:`Regime`, on the signal's calendar: breakouts and failures, one *moment* at a time
  (a session close, or the point at which a weekly/monthly close became known);
- :class:`Scan`, on the traded clock: the regime as of each decision time, the rotation into
  alts, the target weights, the reasons and the inputs.

``decide`` runs a fresh scan over the whole history; ``decide_latest`` keeps one scan and feeds
it only what is new, so a live step costs the same on the first day and after years. The
vectorised series (prior high, drought, moving average, momentum) are prefix-causal: their value
at a row is the same whether later rows exist or not, so both paths give identical bits.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from papertrade.data.history import MarketHistory
from papertrade.strategies.base import Decisions, scheduled_labels
from papertrade.strategies.signals import confirmation_points, drought, prior_high, returns

if TYPE_CHECKING:
    from papertrade.strategies.rut_breakout_rotation import RutBreakoutRotation

REGIME_COLUMNS = ["signal_date", "signal_close", "breakout_level", "ma", "in_market", "entries",
                  "exits", "entry_time", "entry_level", "exit_level"]
INPUT_COLUMNS = ["signal_date", "signal_close", "breakout_level", "exit_level", "ma",
                 "in_market", "rotated", "btc_close"]
_NAN_ROW: tuple[Any, ...] = (pd.NaT, np.nan, np.nan, np.nan, None, None, None, None, np.nan,
                             np.nan)


class Regime:
    """The breakout state machine, resumable: :meth:`advance` processes the moments after the
    last one it processed, up to a horizon."""

    def __init__(self, strategy: RutBreakoutRotation) -> None:
        self.strategy = strategy
        self.in_market, self.entries, self.exits = False, 0, 0
        self.entry_time, self.entry_level = -1, math.nan
        self.done: tuple[int, int] = (-1, -1)  # the last (time ns, row) processed
        self.row: tuple[Any, ...] = _NAN_ROW  # the state after it, as a regime row
        self._loaded: tuple[int, object] | None = None  # (rows, last index) loaded
        self._pending: list[tuple[int, int]] = []  # moments to process, latest first
        self._confirm_at: dict[int, int] = {}
        self._times = self._close = self._level = self._dry = self._ma = self._dates = (
            np.empty(0))

    def load(self, native: pd.DataFrame) -> None:
        """Take the signal's bars (index: availability time) as they are now: the vectorised
        series, and the moments not processed yet, in time order."""
        key = (len(native), native.index[-1] if len(native) else None)
        if key == self._loaded:  # histories only grow: same length and last bar, same bars
            return
        p = self.strategy.params
        close = native["close"].reset_index(drop=True)
        times = pd.DatetimeIndex(native.index).as_unit("ns").asi8
        # rows that may still have an unprocessed moment: their confirmation points come at or
        # after their own close, and a period's last row is confirmed within days
        first = int(np.searchsorted(times, self.done[0], side="left"))
        first = max(0, first - 45) if self.done[0] >= 0 else 0
        dates = native["date"].iloc[first:].reset_index(drop=True)
        points = confirmation_points(dates, pd.DatetimeIndex(native.index[first:]),
                                     p.breakout.confirm)
        self._confirm_at = {int(i) + first: int(t) for i, t in zip(
            points.index, pd.DatetimeIndex(points).as_unit("ns").asi8, strict=True)}
        pending = {*((int(times[i]), i) for i in range(first, len(times))),
                   *((t, i) for i, t in self._confirm_at.items())}
        self._pending = sorted((m for m in pending if self.done < m), reverse=True)
        self._times = times
        self._close = close.to_numpy()
        self._level = prior_high(close, p.breakout.lookback).to_numpy()
        self._dry = drought(close, pd.Series(self._level)).to_numpy()
        self._ma = (close.rolling(p.exit.ma_days).mean().to_numpy() if p.exit.ma_days
                    else np.full(len(close), np.nan))
        self._dates = native["date"].to_numpy()
        self._loaded = key

    def advance(self, horizon: pd.Timestamp, *, keep: bool = False) -> list[tuple[Any, ...]]:
        """Process every loaded moment up to ``horizon`` inclusive.

        Returns the rows of the processed moments when ``keep``; :attr:`row` always holds the
        latest state.
        """
        p = self.strategy.params
        limit = int(pd.Timestamp(horizon).as_unit("ns").value)
        hold = int(pd.Timedelta(days=p.exit.min_hold_days).value)
        kept: list[tuple[Any, ...]] = []
        pending, times = self._pending, self._times
        while pending and pending[-1][0] <= limit:
            time, i = pending.pop()
            c, lvl, mav = float(self._close[i]), float(self._level[i]), float(self._ma[i])
            if self.in_market and times[i] == time:
                if (time - self.entry_time >= hold
                        and self.strategy._failed(c, self.entry_level, mav)):
                    self.in_market, self.exits = False, self.exits + 1
            elif (not self.in_market and self._confirm_at.get(i) == time and c > lvl
                  and self._dry[i] >= p.breakout.min_drought):
                self.in_market, self.entries = True, self.entries + 1
                self.entry_time, self.entry_level = time, lvl
            self.row = (self._dates[i], c, lvl, mav, self.in_market, self.entries, self.exits,
                        self.entry_time if self.entries else None, self.entry_level,
                        self.strategy._exit_level(self.entry_level))
            self.done = (time, i)
            if keep:
                kept.append((time, *self.row))
        return kept


class Scan:
    """The flagship's decisions on the traded clock, resumable at any decision time."""

    def __init__(self, strategy: RutBreakoutRotation) -> None:
        self.strategy = strategy
        self.regime = Regime(strategy)
        self.until: pd.Timestamp | None = None  # the last decision time scanned
        self.prev: tuple[int, int] | None = None  # (entries, exits) at the last decision
        self.is_rot = False
        self.held: list[int] = []
        self.last: Decisions | None = None  # the decision at ``until``

    def extends(self, history: MarketHistory) -> bool:
        """True when ``history`` goes on from the last time scanned (nothing rewritten)."""
        return self.until is None or (len(history.clock) > 0 and history.now >= self.until
                                      and bool((history.clock == self.until).any()))

    def run(self, history: MarketHistory) -> Decisions:
        """Decisions at every decision time of ``history`` after the last one scanned."""
        s = self.strategy
        p, rot = s.params, s.params.rotation
        clock = history.clock
        k0 = 0 if self.until is None else int(clock.searchsorted(self.until, side="right"))
        cols = s.traded_symbols()
        lookback = max(rot.momentum_days, rot.trigger_days) + 1
        window = clock[max(0, k0 - lookback):]
        closes = np.column_stack([_at(history.native(c), "close", window) for c in cols])
        btc, alt_closes = closes[:, 0], closes[:, 1:]
        trig = s._trigger(btc, alt_closes, rot)
        mom = returns(alt_closes, rot.momentum_days)
        new = clock[k0:]
        off = len(window) - len(new)
        scheduled = self._scheduled(history, new)
        self.regime.load(history.native(p.signal))
        fresh = history.fresh(p.signal, new)  # data.max_staleness: a stale signal is missing
        n = len(new)
        weights = np.zeros((n, len(cols)))
        events = np.full(n, "", dtype=object)
        reasons = np.full(n, "", dtype=object)
        inputs: list[list[Any]] = []
        for j, time in enumerate(new):
            self.regime.advance(time)
            view = self._view(time) if fresh[j] else self._missing()
            in_market = bool(view["in_market"])
            entries, exits = int(view["entries"] or 0), int(view["exits"] or 0)
            if self.prev is None:  # an episode under way when the window opens is entered now
                self.prev = (entries - int(in_market), exits)
            if entries > self.prev[0]:
                events[j], self.is_rot, self.held = "breakout", False, []
            elif exits > self.prev[1]:
                events[j], self.is_rot, self.held = "exit", False, []
            self.prev = (entries, exits)
            k = off + j
            rotated = False
            if not in_market:
                reasons[j] = s._reason_out(view, events[j])
            else:
                days_in = view["days_in"]
                if (not self.is_rot and rot.share > 0 and trig[k]
                        and days_in >= s._min_days_for_trigger()):
                    self.is_rot = True
                    events[j] = events[j] or "rotate"
                    self.held = s._top_alts(mom[k])
                elif self.is_rot and (scheduled[j] or np.isnan(alt_closes[k, self.held]).any()):
                    self.held = s._top_alts(mom[k])
                rotated = self.is_rot
                names = [p.alts[i] for i in self.held] if self.is_rot else []
                weights[j] = s._weights_row(cols, btc[k], names)
                reasons[j] = s._reason_in(view, events[j], names)
            inputs.append([view["signal_date"], view["signal_close"], view["breakout_level"],
                           view["exit_level"] if in_market else np.nan, view["ma"],
                           int(in_market), int(rotated), btc[k]])
        if not n and self.last is not None:  # asked again for the same time (a retried step)
            return self.last
        if n:
            self.until = pd.Timestamp(new[-1])
        columns = list(zip(*inputs, strict=True)) if n else [()] * len(INPUT_COLUMNS)
        signal_dates = pd.DatetimeIndex(pd.to_datetime(list(columns[0])))
        frame = pd.DataFrame({
            "signal_date": np.where(signal_dates.isna(), np.nan,
                                    signal_dates.strftime("%Y-%m-%d").to_numpy(dtype=object)),
            **{c: np.asarray(v, dtype=float) for c, v in zip(INPUT_COLUMNS[1:5], columns[1:5],
                                                              strict=True)},
            "in_market": np.asarray(columns[5], dtype=np.int64),
            "rotated": np.asarray(columns[6], dtype=np.int64),
            "btc_close": np.asarray(columns[7], dtype=float),
        }, index=new)
        decided = Decisions(
            weights=pd.DataFrame(weights, index=new, columns=cols),
            events=pd.Series(events, index=new, dtype=object),
            reasons=pd.Series(reasons, index=new, dtype=object),
            inputs=frame,
        )
        if n:
            self.last = Decisions(decided.weights.iloc[-1:], decided.events.iloc[-1:],
                                  decided.reasons.iloc[-1:], decided.inputs.iloc[-1:])
        return decided

    def _missing(self) -> dict[str, Any]:
        """The view of a signal without a fresh bar: as before its first bar."""
        return {**dict(zip(REGIME_COLUMNS, _NAN_ROW, strict=True)), "days_in": 0.0}

    def _view(self, time: pd.Timestamp) -> dict[str, Any]:
        """The regime as of ``time``, with the days since entry."""
        view = dict(zip(REGIME_COLUMNS, self.regime.row, strict=True))
        entry = view["entry_time"]
        view["days_in"] = (0.0 if entry is None else
                           (time.value - entry) / pd.Timedelta(days=1).value)
        return view

    def _scheduled(self, history: MarketHistory, times: pd.DatetimeIndex) -> np.ndarray:
        policy = self.strategy.params.rebalance
        if policy.every != "weekly":  # the labels matter only for a weekday
            return scheduled_labels(times, policy)
        labels = np.full(len(times), np.datetime64("NaT"), dtype="datetime64[us]")
        for symbol in history.traded:
            found = _at(history.native(symbol), "date", times)
            labels = np.where(np.isnat(labels), found, labels)
            if not np.isnat(labels).any():
                break
        return scheduled_labels(pd.DatetimeIndex(labels), policy)


def _at(frame: pd.DataFrame, column: str, times: pd.DatetimeIndex) -> np.ndarray:
    """``frame[column]`` at exactly ``times`` (its index: availability times), NaN/NaT where
    no bar closed then: ``reindex`` for a sorted index, on plain numpy arrays."""
    values = frame[column].values
    stamps = pd.DatetimeIndex(frame.index)
    index = stamps.asi8  # integer instants in the index's own unit, no copy
    wanted = times.as_unit(stamps.unit).asi8
    if values.dtype.kind == "M":
        out = np.full(len(times), np.datetime64("NaT"), dtype=values.dtype)
    else:
        out = np.full(len(times), np.nan)
    if len(index):
        pos = np.minimum(np.searchsorted(index, wanted), len(index) - 1)
        hit = index[pos] == wanted
        out[hit] = values[pos[hit]]
    return out
