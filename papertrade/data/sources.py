"""Where each symbol's bars come from: bundled, csv, yfinance or ccxt.

``load_market`` is the data layer's entry point: it loads and validates every symbol a strategy
reads, stamps availability times and returns the aligned :class:`MarketHistory`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from loguru import logger

from papertrade.config import (
    BundledSource,
    CcxtSource,
    CsvSource,
    DataConfig,
    SymbolSource,
    YFinanceSource,
)
from papertrade.data.bars import (
    Calendar,
    bundled_file,
    bundled_symbols,
    default_calendar,
    frame_digest,
    read_bundled,
    read_ohlcv_csv,
)
from papertrade.data.history import MarketHistory, SymbolBars
from papertrade.data.validate import validate_bars
from papertrade.errors import ConfigError, DataError
from papertrade.util.paths import resolve_path
from papertrade.util.text import did_you_mean


@dataclass(frozen=True)
class LoadedSymbol:
    """A symbol's validated bars and where they came from (for the manifest)."""

    bars: SymbolBars
    origin: dict[str, object]


def source_for(symbol: str, data: DataConfig) -> SymbolSource:
    """The configured source of ``symbol``, or the bundled data set."""
    return data.symbols.get(symbol, BundledSource())


def check_symbols(symbol_keys: Mapping[str, str], data: DataConfig, file: str) -> None:
    """Fail fast, naming the config key, when a symbol has neither a source nor bundled data."""
    bundled = bundled_symbols()
    for key, symbol in symbol_keys.items():
        source = source_for(symbol, data)
        if isinstance(source, BundledSource) and symbol not in bundled:
            hint = did_you_mean(symbol, bundled)
            raise ConfigError(
                file, key, f"no data for '{symbol}'",
                hint or f"add data.symbols.{symbol}: {{source: csv, path: ...}} "
                f"or use a bundled symbol ({', '.join(bundled)})",
            )


def load_symbol(
    symbol: str, data: DataConfig, base_dir: Path, today: dt.date | None = None
) -> LoadedSymbol:
    """Load, validate and stamp one symbol's bars."""
    source = source_for(symbol, data)
    calendar: Calendar = source.calendar or default_calendar(symbol)
    cache_dir = data.cache_dir.expanduser()
    if isinstance(source, BundledSource):
        frame = read_bundled(symbol)
        where = f"bundled {bundled_file(symbol).name}"
        origin: dict[str, object] = {"source": "bundled", "file": bundled_file(symbol).name}
    elif isinstance(source, CsvSource):
        path = resolve_path(source.path, base_dir)
        frame = read_ohlcv_csv(path)
        where = str(path)
        origin = {"source": "csv", "file": str(path)}
    elif isinstance(source, YFinanceSource):
        from papertrade.data.download_yfinance import fetch_yfinance

        frame = fetch_yfinance(
            source.ticker, symbol=symbol, start=None, end=data.end,
            cache_dir=cache_dir, today=today,
        )
        where = f"yfinance {source.ticker}"
        origin = {"source": "yfinance", "ticker": source.ticker}
    elif isinstance(source, CcxtSource):
        from papertrade.data.download_ccxt import fetch_ccxt

        market = source.market or symbol
        frame = fetch_ccxt(
            market, symbol=symbol, exchange=source.exchange, timeframe=data.timeframe,
            start=None, end=data.end, cache_dir=cache_dir,
        )
        where = f"ccxt {source.exchange} {market}"
        origin = {"source": "ccxt", "exchange": source.exchange, "market": market}
    else:  # pragma: no cover - the discriminated union is exhaustive
        raise DataError(f"{symbol}: unsupported source {source!r}")
    return checked_bars(symbol, frame, where=where, calendar=calendar, origin=origin)


def checked_bars(symbol: str, frame: pd.DataFrame, *, where: str, calendar: Calendar,
                 origin: dict[str, object]) -> LoadedSymbol:
    """Validate a freshly loaded bars frame, stamp availability, describe it for the manifest."""
    frame = frame.assign(volume=frame["volume"].fillna(0.0))
    gaps = validate_bars(frame, where=where, calendar=calendar)
    for gap in gaps:
        logger.info("{}: {}", symbol, gap)
    origin = {
        **origin,
        "calendar": calendar,
        "first": frame.index[0].strftime("%Y-%m-%d"),
        "last": frame.index[-1].strftime("%Y-%m-%d"),
        "rows": len(frame),
        "gaps": len(gaps),
        "sha": frame_digest(frame),
    }
    return LoadedSymbol(SymbolBars.from_bars(symbol, calendar, frame), origin)


def load_market(
    symbols: list[str],
    traded: list[str],
    data: DataConfig,
    base_dir: Path,
    file: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> tuple[MarketHistory, dict[str, dict[str, object]]]:
    """Load every symbol and align them on the traded symbols' clock within [start, end]."""
    loaded = {s: load_symbol(s, data, base_dir) for s in dict.fromkeys(symbols)}
    start = start or data.start
    end = end or data.end
    history = MarketHistory.build(
        {s: ls.bars for s, ls in loaded.items()}, traded,
        start=pd.Timestamp(start) if start else None,
        end=pd.Timestamp(end) if end else None,
    )
    if len(history.clock) == 0:
        ranges = ", ".join(f"{s} {loaded[s].origin['first']}..{loaded[s].origin['last']}"
                           for s in traded)
        window = f"{start or 'start'}..{end or 'latest'}"
        raise ConfigError(
            file, "data.start", f"no bars of the traded symbols in {window}",
            f"pick dates inside the available data ({ranges})",
        )
    return history, {s: ls.origin for s, ls in loaded.items()}
