"""Forward returns from decision times: when a signal is known, what could be bought, and when.

**Timing** (one rule for every symbol, whatever its calendar). A decision at time ``t`` (UTC: the
close of the deciding bar, the instant the backtest decides) can act on

- **entry**: the *open* of the first bar of the symbol that opens at or after ``t`` (crypto: the
  bar labelled the next day, which opens exactly at ``t``, the price the backtest fills at; a US
  index: the next session's 09:30 New York open). No such bar within the symbol's
  ``data.max_staleness`` (a symbol not listed yet, a gap): no entry, the cell is empty;
- **exit at horizon h** (calendar days): the *close* of the last bar of the symbol that closes at
  or before ``t + h`` days (crypto: the bar labelled ``D + h`` for a decision at the close of
  ``D``). If the symbol's data ends before ``t + h`` the horizon is *incomplete*: the cell is
  empty and the event is listed as incomplete, never extrapolated;
- **forward return**: ``exit / entry - 1``; **forward maximum drawdown**: the deepest fall of
  the daily closes from the entry bar through the exit bar below their running peak (the entry
  price included), ``<= 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from papertrade.data.history import MarketHistory

_NS_PER_DAY = 86_400 * 10**9
_US_OPEN = pd.Timedelta(hours=9, minutes=30)


@dataclass(frozen=True)
class Prices:
    """One symbol's bars as int64 nanosecond instants (UTC): when each opened and closed."""

    symbol: str
    opens_at: np.ndarray
    closes_at: np.ndarray
    open: np.ndarray
    close: np.ndarray
    max_age: int  # ns

    @classmethod
    def of(cls, history: MarketHistory, symbol: str) -> Prices:
        """``symbol``'s native bars in ``history`` (already cut at its last decision time)."""
        bars = history.bars[symbol]
        frame = bars.frame
        closes = pd.DatetimeIndex(frame.index)
        closes = closes.tz_localize("UTC") if closes.tz is None else closes.tz_convert("UTC")
        labels = pd.DatetimeIndex(frame["date"]).normalize()
        if labels.tz is not None:
            labels = labels.tz_localize(None)
        if bars.calendar == "crypto":
            opens = labels.tz_localize("UTC")
        else:
            opens = (labels + _US_OPEN).tz_localize("America/New_York").tz_convert("UTC")
        return cls(symbol, opens.as_unit("ns").asi8, closes.as_unit("ns").asi8,
                   frame["open"].to_numpy(dtype=float), frame["close"].to_numpy(dtype=float),
                   int(history.max_age(symbol).value))

    def entry_rows(self, times: np.ndarray) -> np.ndarray:
        """Row of the entry bar for each decision instant (-1: none within the max age)."""
        rows = np.searchsorted(self.opens_at, times, side="left")
        ok = rows < len(self.opens_at)
        safe = np.minimum(rows, max(len(self.opens_at) - 1, 0))
        if len(self.opens_at):
            ok &= self.opens_at[safe] - times <= self.max_age
        return np.where(ok, rows, -1)

    def exit_rows(self, entry: np.ndarray, until: np.ndarray) -> np.ndarray:
        """Row of the last bar closing at or before ``until`` (-1: incomplete, a data gap
        longer than the max age, or no entry)."""
        rows = np.searchsorted(self.closes_at, until, side="right") - 1
        if not len(self.closes_at):
            return np.full(len(until), -1)
        complete = until <= self.closes_at[-1]
        safe = np.maximum(rows, 0)
        fresh = until - self.closes_at[safe] <= self.max_age
        ok = complete & fresh & (entry >= 0) & (rows >= entry)
        return np.where(ok, rows, -1)

    @property
    def last_close(self) -> int | None:
        """When the symbol's data ends (ns), None without bars."""
        return int(self.closes_at[-1]) if len(self.closes_at) else None


def decision_ns(times: pd.DatetimeIndex) -> np.ndarray:
    """Decision times as int64 UTC nanoseconds."""
    index = pd.DatetimeIndex(times)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def forward_returns(prices: Prices, times: np.ndarray, horizons: list[int]) -> np.ndarray:
    """Forward returns (rows: ``times``, columns: ``horizons``); NaN where there is none."""
    entry = prices.entry_rows(times)
    out = np.full((len(times), len(horizons)), np.nan)
    if not len(prices.opens_at):
        return out
    base = prices.open[np.maximum(entry, 0)]
    for j, h in enumerate(horizons):
        exit_ = prices.exit_rows(entry, times + h * _NS_PER_DAY)
        out[:, j] = np.where(exit_ >= 0, prices.close[np.maximum(exit_, 0)] / base - 1, np.nan)
    return out


def incomplete(prices: Prices, times: np.ndarray, horizons: list[int]) -> np.ndarray:
    """Whether each horizon runs past the symbol's data (rows: ``times``)."""
    last = prices.last_close
    ends = times[:, None] + np.asarray(horizons, dtype=np.int64)[None, :] * _NS_PER_DAY
    return np.ones(ends.shape, dtype=bool) if last is None else ends > last


def forward_drawdowns(prices: Prices, times: np.ndarray, horizons: list[int]) -> np.ndarray:
    """Forward maximum drawdown within each horizon (<= 0; NaN where the return is NaN)."""
    entry = prices.entry_rows(times)
    out = np.full((len(times), len(horizons)), np.nan)
    for j, h in enumerate(horizons):
        exit_ = prices.exit_rows(entry, times + h * _NS_PER_DAY)
        for i in np.flatnonzero(exit_ >= 0):
            path = np.concatenate(([prices.open[entry[i]]], prices.close[entry[i]:exit_[i] + 1]))
            out[i, j] = float(np.min(path / np.maximum.accumulate(path)) - 1)
    return out


def paths(prices: Prices, times: np.ndarray, days: int) -> np.ndarray:
    """Cumulative return from the entry at each day offset ``0..days`` (rows: ``times``):
    the close of the last bar closed by ``t + k`` days over the entry price; NaN past the data
    (and at offsets before the entry bar's close, except 0 which is the entry itself)."""
    entry = prices.entry_rows(times)
    offsets = np.arange(days + 1, dtype=np.int64) * _NS_PER_DAY
    out = np.full((len(times), days + 1), np.nan)
    if not len(prices.opens_at):
        return out
    base = prices.open[np.maximum(entry, 0)]
    for chunk in range(0, len(times), 512):  # bounded memory: 512 x days cells at a time
        sl = slice(chunk, chunk + 512)
        until = times[sl, None] + offsets[None, :]
        rows = np.searchsorted(prices.closes_at, until.ravel(), side="right").reshape(
            until.shape) - 1
        ok = (until <= prices.closes_at[-1]) & (rows >= entry[sl, None]) & (entry[sl, None] >= 0)
        safe = np.maximum(rows, 0)
        ok &= until - prices.closes_at[safe] <= prices.max_age
        out[sl] = np.where(ok, prices.close[safe] / base[sl, None] - 1, np.nan)
        out[sl, 0] = np.where(entry[sl] >= 0, 0.0, np.nan)
    return out
