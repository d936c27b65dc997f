"""What the data cache holds, and how a symbol is downloaded into it.

Each download (:mod:`papertrade.data.download_ccxt`, :mod:`papertrade.data.download_yfinance`)
leaves a CSV and a JSON sidecar under ``<cache_dir>/<provider>/<namespace>/`` (see
:mod:`papertrade.data.cache`); the sidecar names the config symbol the bars were downloaded
for. :func:`cache_entries` lists them from the sidecars alone (no CSV is parsed), so a config
can find "the downloaded bars of RUT" cheaply at every backtest.

A symbol's default remote source (:func:`default_remote`): pairs quoted in a crypto currency
(``BTC/USDT``) come from Binance through ccxt; anything else from Yahoo Finance, with the
index tickers of :data:`YAHOO_INDEX_TICKERS` (``RUT`` is ``^RUT``) and ``/`` spelled ``-``
(``BTC/USD`` is ``BTC-USD``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from papertrade.data.bars import bundled_file

Provider = Literal["ccxt", "yfinance"]
PROVIDERS: tuple[Provider, ...] = ("ccxt", "yfinance")
YAHOO_INDEX_TICKERS = {"RUT": "^RUT", "SPX": "^GSPC", "NDX": "^NDX", "DJI": "^DJI",
                       "VIX": "^VIX"}
"""Config symbols of US indices and their Yahoo Finance tickers."""
FIAT_QUOTES = {"USD", "EUR", "GBP", "JPY"}


@dataclass(frozen=True)
class CacheEntry:
    """One downloaded series in the cache (read from its sidecar)."""

    provider: Provider
    namespace: str  # the exchange (ccxt) or "yahoo"
    name: str  # the exchange market or the Yahoo ticker
    symbol: str  # the config symbol it was downloaded for
    timeframe: str
    path: Path  # the CSV
    first: dt.date
    last: dt.date
    rows: int
    covers_from: dt.date | None
    checked_through: dt.date | None

    @property
    def label(self) -> str:
        """``ccxt binance BTC/USDT`` or ``yfinance ^RUT``."""
        if self.provider == "ccxt":
            return f"ccxt {self.namespace} {self.name}"
        return f"yfinance {self.name}"


def cache_entries(cache_dir: Path, timeframe: str | None = None) -> list[CacheEntry]:
    """Every readable download under ``cache_dir`` (optionally of one timeframe), sorted by
    symbol then provider. Sidecars that cannot be read are skipped (the next download of that
    series rewrites them)."""
    root = Path(cache_dir).expanduser()
    found: list[CacheEntry] = []
    for provider in PROVIDERS:
        for meta_path in sorted((root / provider).glob("*/*.json")):
            entry = _entry(provider, meta_path)
            if entry is not None and (timeframe is None or entry.timeframe == timeframe):
                found.append(entry)
    return sorted(found, key=lambda e: (e.symbol, e.provider, e.namespace, e.name))


def _entry(provider: Provider, meta_path: Path) -> CacheEntry | None:
    csv = meta_path.with_suffix(".csv")
    try:
        meta: Any = json.loads(meta_path.read_text(encoding="utf-8"))
        name = str(meta["name"])
        covers = meta.get("covers_from")
        symbol = meta.get("symbol") or (name if provider == "ccxt" else symbol_for_ticker(name))
        entry = CacheEntry(
            provider=provider, namespace=str(meta["namespace"]), name=name, symbol=str(symbol),
            timeframe=str(meta["timeframe"]), path=csv,
            first=dt.date.fromisoformat(meta["first"]), last=dt.date.fromisoformat(meta["last"]),
            rows=int(meta["rows"]),
            covers_from=None if covers is None else dt.date.fromisoformat(covers),
            checked_through=dt.date.fromisoformat(meta["checked_through"]),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return entry if csv.is_file() else None


def cached_series(cache_dir: Path, provider: Provider, namespace: str, name: str,
                  timeframe: str) -> CacheEntry | None:
    """The download of exactly this series, if the cache holds it."""
    from papertrade.data.cache import cache_path

    path = cache_path(cache_dir, source=provider, namespace=namespace, name=name,
                      timeframe=timeframe)
    return _entry(provider, path.with_suffix(".json"))


def find_cached(cache_dir: Path, symbol: str, timeframe: str,
                provider: Provider | None = None) -> CacheEntry | None:
    """The download of ``symbol`` (from ``provider``, or any) with the latest last bar."""
    matches = [e for e in cache_entries(cache_dir, timeframe)
               if e.symbol == symbol and (provider is None or e.provider == provider)]
    return max(matches, key=lambda e: (e.last, e.rows), default=None)


def read_entry(entry: CacheEntry) -> pd.DataFrame:
    """The cached bars of ``entry`` (a :class:`~papertrade.errors.DataError` when unreadable)."""
    from papertrade.data.cache import read_cached
    from papertrade.errors import DataError

    cached = read_cached(entry.path.parent.parent.parent, source=entry.provider,
                         namespace=entry.namespace, name=entry.name, timeframe=entry.timeframe)
    if cached is None:
        raise DataError(f"{entry.symbol}: the cached bars {entry.path} cannot be read; download "
                        f"them again: papertrade data update")
    return cached.frame


def bundled_last(symbol: str) -> dt.date | None:
    """The date of the bundled file's last bar (its last line only is read), or ``None``."""
    path = bundled_file(symbol)
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 256))
            tail = handle.read().decode("utf-8", "replace").strip().splitlines()
        return dt.date.fromisoformat(tail[-1].split(",", 1)[0][:10])
    except (OSError, ValueError, IndexError):
        return None


def yahoo_ticker(symbol: str) -> str:
    """The Yahoo Finance ticker of a config symbol: ``RUT`` -> ``^RUT``, ``BTC/USD`` ->
    ``BTC-USD``, anything else unchanged."""
    return YAHOO_INDEX_TICKERS.get(symbol, symbol.replace("/", "-"))


def symbol_for_ticker(ticker: str) -> str:
    """The config symbol of a Yahoo ticker (the inverse of :func:`yahoo_ticker`)."""
    for symbol, known in YAHOO_INDEX_TICKERS.items():
        if known == ticker:
            return symbol
    if "-" in ticker and bundled_file(ticker.replace("-", "/")).is_file():
        return ticker.replace("-", "/")
    return ticker


def default_remote(symbol: str) -> tuple[Provider, str, str]:
    """``(provider, namespace, name)`` a symbol is downloaded from when nothing else is said:
    ``BTC/USDT`` -> ccxt binance ``BTC/USDT``; ``RUT`` -> yfinance ``^RUT``."""
    if "/" in symbol and symbol.rsplit("/", 1)[1] not in FIAT_QUOTES:
        return "ccxt", "binance", symbol
    return "yfinance", "yahoo", yahoo_ticker(symbol)


def download(
    provider: Provider, namespace: str, name: str, *, symbol: str, timeframe: str,
    since: dt.date | None, cache_dir: Path,
    on_page: Callable[[dt.date, dt.date], None] | None = None,
) -> pd.DataFrame:
    """Download (incrementally: a cached range is not asked for again) the bars of ``name``
    from ``since`` (``None``: the first bar) through the last complete one, into the cache.
    Raises :class:`~papertrade.errors.DataError` (one line with the fix) on any failure."""
    if provider == "ccxt":
        from papertrade.data.download_ccxt import fetch_ccxt

        return fetch_ccxt(name, symbol=symbol, exchange=namespace, timeframe=timeframe,
                          start=since, end=None, cache_dir=cache_dir, on_page=on_page)
    from papertrade.data.download_yfinance import TIMEFRAME, fetch_yfinance
    from papertrade.errors import DataError

    if timeframe != TIMEFRAME:
        raise DataError(f"{symbol}: Yahoo Finance downloads are daily only; use --timeframe 1d")
    return fetch_yfinance(name, symbol=symbol, start=since, end=None, cache_dir=cache_dir)


def refresh(entry: CacheEntry, cache_dir: Path,
            on_page: Callable[[dt.date, dt.date], None] | None = None) -> pd.DataFrame:
    """Download only the bars ``entry`` lacks (from its last bar on) into the cache."""
    return download(entry.provider, entry.namespace, entry.name, symbol=entry.symbol,
                    timeframe=entry.timeframe, since=entry.covers_from, cache_dir=cache_dir,
                    on_page=on_page)
