"""Market history for a live decision, refreshed through the data layer.

Traded pairs come from the exchange the run trades on (its public klines through ccxt, cached
in the run folder and refreshed incrementally; the forming candle is dropped). Every other
symbol (the RUT, say) comes from its configured source. The result is truncated at ``now`` by
availability time, exactly as the backtest sees history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from papertrade.config import BundledSource, CsvSource, DataConfig
from papertrade.data.history import MarketHistory, SymbolBars
from papertrade.data.sources import checked_bars, load_symbol
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
        self._memory: dict[str, pd.DataFrame] = {}
        self.origins: dict[str, dict[str, object]] = {}

    def _from_exchange(self, symbol: str) -> bool:
        return symbol in self.traded and symbol not in self.data.symbols

    def _static_source(self, symbol: str) -> bool:
        source = self.data.symbols.get(symbol, BundledSource())
        return isinstance(source, BundledSource | CsvSource)

    def _exchange_bars(self, symbol: str, now: pd.Timestamp) -> SymbolBars:
        from papertrade.data.download_ccxt import fetch_ccxt

        known = self._memory.get(symbol)
        if known is None:  # first load: the data layer's paginated, cached download
            frame = fetch_ccxt(
                symbol, symbol=symbol, exchange=self.exchange_label,
                timeframe=self.data.timeframe, start=self.start - dt.timedelta(days=7),
                end=None, cache_dir=self.cache_dir, make_client=self.make_client,
                now=now.to_pydatetime(),
            )
        else:  # later decisions: only the candles that closed since
            frame = self._newer(symbol, known, now)
        self._memory[symbol] = frame
        loaded = checked_bars(symbol, frame, where=f"{self.exchange_label} {symbol}",
                              calendar="crypto",
                              origin={"source": "exchange", "exchange": self.exchange_label})
        self.origins[symbol] = loaded.origin
        return loaded.bars

    def _newer(self, symbol: str, known: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
        from papertrade.data.download_ccxt import candles_to_bars

        assert self.make_client is not None
        since_ms = int(pd.Timestamp(known.index[-1]).value // 1_000_000) + _DAY_MS
        try:
            candles = self.make_client().fetch_ohlcv(symbol, self.data.timeframe,
                                                     since=since_ms, limit=1000)
        except Exception as exc:  # any client failure is a data outage for this decision
            raise DataError(f"{symbol}: cannot refresh candles from {self.exchange_label} "
                            f"({type(exc).__name__})") from None
        new = candles_to_bars(candles, _DAY_MS, int(now.value // 1_000_000),
                              f"{self.exchange_label} {symbol}")
        if new.empty:
            return known
        merged = pd.concat([known, new])
        return merged.loc[~merged.index.duplicated(keep="last")].sort_index()

    def _configured_bars(self, symbol: str) -> SymbolBars:
        if symbol in self._static:
            return self._static[symbol]
        loaded = load_symbol(symbol, self.data, self.base_dir)
        self.origins[symbol] = loaded.origin
        if self._static_source(symbol):
            self._static[symbol] = loaded.bars
        return loaded.bars

    def history(self, now: pd.Timestamp) -> MarketHistory:
        """Everything available at ``now`` (bars closing later are not there)."""
        bars: dict[str, SymbolBars] = {}
        for symbol in self.symbols:
            if self._from_exchange(symbol) and self.make_client is not None:
                bars[symbol] = self._exchange_bars(symbol, now)
            else:
                bars[symbol] = self._configured_bars(symbol)
        full = MarketHistory.build(bars, self.traded, start=pd.Timestamp(self.start))
        return full.truncate(now)
