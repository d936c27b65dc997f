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

import numpy as np
import pandas as pd

from papertrade.config import BundledSource, CacheSource, CsvSource, DataConfig
from papertrade.data.bars import COLUMNS, available_at
from papertrade.data.history import MarketHistory, SymbolBars
from papertrade.data.sources import checked_bars, load_symbol, max_staleness
from papertrade.data.validate import check_rows
from papertrade.errors import DataError

_DAY_MS = 86_400_000
_NOT_LISTED = SymbolBars("", "crypto", pd.DataFrame(
    {"date": pd.DatetimeIndex([], dtype="datetime64[ns]"),
     **{c: pd.Series([], dtype="float64") for c in COLUMNS}},
    index=pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="available_at")))


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
        self._since = pd.Timestamp(start - dt.timedelta(days=7), tz="UTC")
        self.origins: dict[str, dict[str, object]] = {}

    def _from_exchange(self, symbol: str) -> bool:
        return (symbol in self.traded and symbol not in self.data.symbols
                and self.make_client is not None)

    def _static_source(self, symbol: str) -> bool:
        source = self.data.symbols.get(symbol, BundledSource())
        return isinstance(source, BundledSource | CsvSource | CacheSource)

    def _first_load(self, symbol: str, now: pd.Timestamp) -> SymbolBars:
        """The history of ``symbol`` up to ``now`` (paginated, cached, fully validated); empty
        when the exchange has no closed candle of it yet (a market listed later), so that it
        joins the universe at the decision after its first candle closes."""
        from papertrade.data.download_ccxt import fetch_ccxt

        try:
            frame = fetch_ccxt(
                symbol, symbol=symbol, exchange=self.exchange_label,
                timeframe=self.data.timeframe, start=self._since.date(),
                end=None, cache_dir=self.cache_dir, make_client=self.make_client,
                now=now.to_pydatetime(),
            )
        except DataError:
            dates, _values = self._new_rows(symbol, _NOT_LISTED, now)
            if len(dates):
                raise
            return SymbolBars(symbol, "crypto", _NOT_LISTED.frame)
        loaded = checked_bars(symbol, frame, where=f"{self.exchange_label} {symbol}",
                              calendar="crypto",
                              origin={"source": "exchange", "exchange": self.exchange_label})
        self.origins[symbol] = loaded.origin
        return loaded.bars

    def _new_rows(self, symbol: str, known: SymbolBars, now: pd.Timestamp
                  ) -> tuple[np.ndarray, np.ndarray]:
        """The candles that closed since ``known``'s last bar: their dates (ms) and values
        (open, high, low, close, volume), each row checked by the row rules of a full load
        (:func:`check_rows`), dated after the last bar and not ahead of ``now``."""
        assert self.make_client is not None
        frame = known.frame
        last_ms = (int(frame.index[-1].value // 1_000_000) - _DAY_MS if len(frame)  # its date
                   else int(self._since.value // 1_000_000) - _DAY_MS)
        try:
            candles = self.make_client().fetch_ohlcv(symbol, self.data.timeframe,
                                                     since=last_ms + _DAY_MS, limit=1000)
        except Exception as exc:  # any client failure is a data outage for this decision
            raise DataError(f"{symbol}: cannot refresh candles from {self.exchange_label} "
                            f"({type(exc).__name__})") from None
        now_ms = int(now.value // 1_000_000)
        rows = sorted({int(c[0]): c for c in candles
                       if c and c[0] is not None and last_ms < int(c[0]) <= now_ms - _DAY_MS
                       }.items())
        dates = np.array([ms for ms, _ in rows], dtype="datetime64[ms]")
        values = np.array([[np.nan if v is None else float(v) for v in c[1:6]]
                           for _, c in rows], dtype="float64").reshape(len(rows), 5)
        values[:, 4] = np.nan_to_num(values[:, 4], nan=0.0)
        if len(rows):
            check_rows(values[:, :4], values[:, 4], dates, f"{self.exchange_label} {symbol}")
        return dates, values

    def _append(self, new: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Stamp the new rows of every symbol with their availability and append them to the
        symbols' bars (one frame built for all symbols: pandas costs per call, not per row)."""
        model = next((f for f in (b.frame for b in self._exchange.values()) if len(f)),
                     _NOT_LISTED.frame)
        dates = pd.DatetimeIndex(np.concatenate([d for d, _ in new.values()]), name="date")
        rows = pd.DataFrame(np.concatenate([v for _, v in new.values()]),
                            columns=list(COLUMNS),
                            index=available_at(dates, "crypto").as_unit(model.index.unit)
                            .rename(model.index.name))
        rows.insert(0, "date", dates.as_unit(model["date"].dt.unit))
        at = 0
        for symbol, (_dates, values) in new.items():
            known = self._exchange[symbol].frame
            part = rows.iloc[at:at + len(values)]
            self._exchange[symbol] = SymbolBars(symbol, "crypto", pd.concat([known, part]))
            at += len(values)

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
        new: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for symbol in self.symbols:
            if not self._from_exchange(symbol):
                continue
            if symbol not in self._exchange:
                self._exchange[symbol] = self._first_load(symbol, now)
            else:
                dates, values = self._new_rows(symbol, self._exchange[symbol], now)
                if len(values):
                    new[symbol] = (dates, values)
        if new:
            self._append(new)
        bars = {s: self._exchange[s] if self._from_exchange(s) else self._configured_bars(s)
                for s in self.symbols}
        new_times = [self._exchange[s].frame.index[-len(v):] for s, (_d, v) in new.items()]
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

