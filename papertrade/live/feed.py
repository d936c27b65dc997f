"""Market history for a live decision, refreshed through the data layer, incrementally.

Traded pairs come from the exchange the run trades on: the first decision loads their history
through the data layer's paginated, cached download and full validation; every later decision
asks the exchange only for the candles that closed since, validates those rows and appends
them (the forming candle is dropped). Every other symbol (the RUT, say) comes from its
configured source. The clock grows with the new bars, so a decision costs the same after years
of running as on the first day. The caller truncates the history at the decision time by
availability, exactly as the backtest sees it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from papertrade.config import BundledSource, CsvSource, DataConfig
from papertrade.data.bars import COLUMNS
from papertrade.data.history import MarketHistory, SymbolBars
from papertrade.data.sources import checked_bars, load_symbol, max_staleness
from papertrade.data.validate import validate_bars
from papertrade.errors import DataError

_DAY_MS = 86_400_000


class LiveMarketFeed:
    """Builds the :class:`MarketHistory` known at a given instant."""

    def __init__(
        self,
        *,
        symbols: list[str],
        traded: list[str],
        data: DataConfig,
        base_dir: Path,
        start: dt.date,
        cache_dir: Path,
        exchange_label: str,
        make_client: Callable[[], Any] | None,
    ) -> None:
        self.symbols = symbols
        self.traded = traded
        self.data = data
        self.base_dir = base_dir
        self.start = start
        self.cache_dir = cache_dir
        self.exchange_label = exchange_label
        self.make_client = make_client
        self._static: dict[str, SymbolBars] = {}
        self._exchange: dict[str, SymbolBars] = {}
        self._history: MarketHistory | None = None
        self.origins: dict[str, dict[str, object]] = {}

    def _from_exchange(self, symbol: str) -> bool:
        return (symbol in self.traded and symbol not in self.data.symbols
                and self.make_client is not None)

    def _static_source(self, symbol: str) -> bool:
        source = self.data.symbols.get(symbol, BundledSource())
        return isinstance(source, BundledSource | CsvSource)

    def _first_load(self, symbol: str, now: pd.Timestamp) -> SymbolBars:
        from papertrade.data.download_ccxt import fetch_ccxt

        frame = fetch_ccxt(
            symbol, symbol=symbol, exchange=self.exchange_label,
            timeframe=self.data.timeframe, start=self.start - dt.timedelta(days=7),
            end=None, cache_dir=self.cache_dir, make_client=self.make_client,
            now=now.to_pydatetime(),
        )
        loaded = checked_bars(symbol, frame, where=f"{self.exchange_label} {symbol}",
                              calendar="crypto",
                              origin={"source": "exchange", "exchange": self.exchange_label})
        self.origins[symbol] = loaded.origin
        return loaded.bars

    def _appended(self, symbol: str, known: SymbolBars, now: pd.Timestamp) -> SymbolBars:
        """``known`` with the candles that closed since its last bar, validated."""
        assert self.make_client is not None
        last = pd.Timestamp(known.frame["date"].iloc[-1])
        since_ms = int(last.value // 1_000_000) + _DAY_MS
        where = f"{self.exchange_label} {symbol}"
        try:
            candles = self.make_client().fetch_ohlcv(symbol, self.data.timeframe,
                                                     since=since_ms, limit=1000)
        except Exception as exc:  # any client failure is a data outage for this decision
            raise DataError(f"{symbol}: cannot refresh candles from {self.exchange_label} "
                            f"({type(exc).__name__})") from None
        new = _closed_rows(candles, int(now.value // 1_000_000), after=last)
        if new.empty:
            return known
        # the new rows with the last known one: order, duplicates, values and range checked
        # by the same rules as a full load, on a frame of a few rows
        validate_bars(pd.concat([known.frame.iloc[-1:].set_index("date"), new]),
                      where=where, calendar="crypto")
        stamped = SymbolBars.from_bars(symbol, "crypto", new)
        return SymbolBars(symbol, "crypto", pd.concat([known.frame, stamped.frame]))

    def _configured_bars(self, symbol: str) -> SymbolBars:
        if symbol in self._static:
            return self._static[symbol]
        loaded = load_symbol(symbol, self.data, self.base_dir)
        self.origins[symbol] = loaded.origin
        if self._static_source(symbol):
            self._static[symbol] = loaded.bars
        return loaded.bars

    def history(self, now: pd.Timestamp) -> MarketHistory:
        """Everything the sources hold at ``now``; bars closing later than ``now`` may be
        there for configured files: truncate at the decision time before deciding."""
        bars: dict[str, SymbolBars] = {}
        new_times: list[pd.DatetimeIndex] = []
        for symbol in self.symbols:
            if not self._from_exchange(symbol):
                bars[symbol] = self._configured_bars(symbol)
                continue
            known = self._exchange.get(symbol)
            bars[symbol] = (self._first_load(symbol, now) if known is None
                            else self._appended(symbol, known, now))
            self._exchange[symbol] = bars[symbol]
            if known is not None and len(bars[symbol].frame) > len(known.frame):
                new_times.append(bars[symbol].frame.index[len(known.frame):])
        previous = self._history
        if previous is None or any(not self._from_exchange(s) for s in self.traded):
            history = MarketHistory.build(bars, self.traded, start=pd.Timestamp(self.start),
                                          max_staleness=max_staleness(self.data))
        else:  # the clock grows by the traded bars that closed since the last decision
            clock = previous.clock
            for times in new_times:
                clock = clock.union(times[times > clock[-1]]) if len(clock) else times
            history = MarketHistory(clock=clock.rename("time"), bars=bars,
                                    traded=previous.traded,
                                    max_staleness=previous.max_staleness)
        self._history = history
        return history


def _closed_rows(candles: list[list[Any]], now_ms: int, after: pd.Timestamp) -> pd.DataFrame:
    """ccxt ``[ms, o, h, l, c, v]`` candles closed by ``now_ms`` and dated after ``after``,
    as a bars frame (the forming candle is dropped)."""
    rows = [c[:6] for c in candles
            if c and c[0] is not None and int(c[0]) + _DAY_MS <= now_ms
            and int(c[0]) > after.value // 1_000_000]
    dates = pd.DatetimeIndex(pd.to_datetime([int(r[0]) for r in rows], unit="ms"), name="date")
    values = [[float("nan") if v is None else float(v) for v in r[1:6]] for r in rows]
    frame = pd.DataFrame(values, index=dates, columns=list(COLUMNS), dtype="float64")
    return frame.loc[~frame.index.duplicated(keep="last")].sort_index()
