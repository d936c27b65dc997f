"""The market as the simulator executes on it: plain arrays on the traded clock, built once.

Row ``k`` is the ``k``-th decision time of the history's clock (the close of the bars dated
``labels[k]``). For each traded symbol: the open of its bar at that row (NaN when it has no bar
there: no order can fill), and the close the portfolio is marked at (the latest close so far, as
backtrader shows a feed that has no bar at the current time; NaN before its first bar).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from papertrade.data.history import MarketHistory
from papertrade.trader import order_stamp


@dataclass(frozen=True)
class MarketArrays:
    """Opens and marking closes of the traded symbols on the clock (see the module doc)."""

    symbols: tuple[str, ...]
    clock: pd.DatetimeIndex
    labels: pd.DatetimeIndex
    dates: tuple[str, ...]  # labels as YYYY-MM-DD
    opens: np.ndarray  # (rows, symbols), NaN where no bar closes at that row
    marks: np.ndarray  # (rows, symbols), the latest close so far, NaN before the first bar
    fill_times: tuple[str, ...]  # the journal's time of a fill at each row's open
    stamps: tuple[str, ...]  # each decision time as order ids write it
    rows: int  # decision times on the clock
    fill_ns: np.ndarray  # int64 ns of each row's fill time
    day_ns: np.ndarray  # int64 ns of the UTC day each decision time falls in
    open_rows: tuple[dict[str, float], ...]  # per row, the opens of the symbols with a bar

    @classmethod
    def build(cls, history: MarketHistory, symbols: Sequence[str]) -> MarketArrays:
        """The arrays of ``symbols`` over ``history``'s clock. A symbol without a bar inside
        the window has no feed in the backtest: it never trades and is never marked."""
        clock = history.clock
        labels = history.labels()
        opens = np.full((len(clock), len(symbols)), np.nan)
        closes = np.full((len(clock), len(symbols)), np.nan)
        if len(clock):
            first, last = labels[0], labels[-1]
            for i, symbol in enumerate(symbols):
                native = history.native(symbol)
                dates = pd.DatetimeIndex(native["date"])
                window = native[(dates >= first) & (dates <= last)]
                if not len(window):
                    continue
                opens[:, i] = window["open"].reindex(clock).to_numpy(dtype=float)
                closes[:, i] = window["close"].reindex(clock).to_numpy(dtype=float)
        marks = pd.DataFrame(closes).ffill().to_numpy()
        dates_iso = tuple(labels.strftime("%Y-%m-%d"))
        return cls(symbols=tuple(symbols), clock=clock, labels=labels, dates=dates_iso,
                   opens=opens, marks=marks,
                   fill_times=tuple(f"{d}T00:00:00Z" for d in dates_iso),
                   stamps=tuple(order_stamp(t) for t in clock.to_pydatetime()),
                   rows=len(clock),
                   fill_ns=labels.as_unit("ns").asi8.copy(),
                   day_ns=clock.floor("D").tz_localize(None).as_unit("ns").asi8.copy(),
                   open_rows=tuple(
                       {s: p for s, p in zip(symbols, row, strict=True) if p == p}
                       for row in opens.tolist()))
