"""Where each symbol's bars come from: bundled, csv, yfinance, ccxt or the cache.

A symbol absent from ``data.symbols`` reads the bundled file, or its download in the data cache
(``papertrade data download``/``update``) when that one ends later; ``source: bundled`` pins the
bundled file, ``source: cache`` the download (see :mod:`papertrade.data.catalog`).

``load_market`` is the data layer's entry point: it loads and validates every symbol a strategy
reads, stamps availability times and returns the aligned :class:`MarketHistory`.

What the run is told (logger; the CLI shows WARNING and above on the terminal) and what the
manifest records (``origin``, one dict per symbol):

- calendar gaps: every gap is logged (INFO) and its span recorded in ``gap_spans`` (the first
  20; ``gaps`` counts them all); a gap longer than the calendar's ``data.max_staleness`` is a
  WARNING, so a two-year hole in a file is never silent;
- staleness: where a symbol joined *as of* (every symbol that is not traded, e.g. the RUT) has
  no bar within its max age at a decision, the strategy sees it as missing; each such span is
  a WARNING naming the symbol and the dates, recorded in ``stale_spans``; so are decisions
  before such a symbol's first bar.

Every WARNING is also kept in the origin's ``warnings`` list (the run folder's manifest).
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from loguru import logger

from papertrade.config import (
    BundledSource,
    CacheSource,
    CcxtSource,
    CsvSource,
    DataConfig,
    SymbolSource,
    YFinanceSource,
    capped,
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
from papertrade.data.catalog import (
    CacheEntry,
    bundled_last,
    default_remote,
    find_cached,
    read_entry,
)
from papertrade.data.history import DEFAULT_MAX_STALENESS, MarketHistory, SymbolBars
from papertrade.data.validate import MAX_GAP_WARNINGS, find_gaps, validate_bars
from papertrade.errors import ConfigError, DataError
from papertrade.util.paths import resolve_path
from papertrade.util.text import did_you_mean, one_line

MAX_LOGGED = 5  # warnings per symbol and kind on the terminal; the manifest keeps 20


@dataclass(frozen=True)
class LoadedSymbol:
    """A symbol's validated bars and where they came from (for the manifest)."""

    bars: SymbolBars
    origin: dict[str, object]


def max_staleness(data: DataConfig) -> dict[str, pd.Timedelta]:
    """``data.max_staleness`` as :class:`MarketHistory` takes it (calendar -> max age)."""
    days = data.max_staleness
    return {"us_equity": pd.Timedelta(days=days.us_equity),
            "crypto": pd.Timedelta(days=days.crypto)}


def source_for(symbol: str, data: DataConfig) -> SymbolSource:
    """The configured source of ``symbol``: for a symbol absent from ``data.symbols``, the
    cache when it holds bars of it ending after the bundled ones, else the bundled data set."""
    if symbol in data.symbols:
        return data.symbols[symbol]
    entry = find_cached(data.cache_dir, symbol, data.timeframe)
    if entry is not None:
        last = bundled_last(symbol)
        if last is None or entry.last > last:
            return CacheSource(source="cache")
    return BundledSource()


def cached_entry(symbol: str, source: CacheSource, data: DataConfig) -> CacheEntry:
    """The download ``source`` reads; a one-line :class:`DataError` with the fix when none."""
    entry = find_cached(data.cache_dir, symbol, data.timeframe, source.provider)
    if entry is not None:
        return entry
    provider = source.provider or default_remote(symbol)[0]
    command = f"papertrade data download {symbol} --source {provider}"
    bundled = (f", or use the bundled data: --set data.symbols.{symbol}.source=bundled"
               if bundled_file(symbol).is_file() else "")
    where = data.cache_dir.expanduser()
    raise DataError(one_line(
        f"{symbol}: no downloaded {data.timeframe} bars in the cache {where}"
        f"{' from ' + source.provider if source.provider else ''}; run `{command}`{bundled}",
        400))


def check_symbols(symbol_keys: Mapping[str, str], data: DataConfig, file: str) -> None:
    """Fail fast, naming the config key, when a symbol has neither a source nor bundled data."""
    bundled = bundled_symbols()
    for key, symbol in symbol_keys.items():
        source = source_for(symbol, data)
        if isinstance(source, CacheSource):
            cached_entry(symbol, source, data)
        elif isinstance(source, BundledSource) and symbol not in bundled:
            hint = did_you_mean(symbol, bundled)
            raise capped(ConfigError(
                file, key, f"no data for {one_line(repr(symbol), 60)}",
                hint or f"add data.symbols.{one_line(symbol, 40)}: {{source: csv, path: ...}} "
                f"or use a bundled symbol ({', '.join(bundled)})",
            ))


def load_symbol(
    symbol: str, data: DataConfig, base_dir: Path, today: dt.date | None = None
) -> LoadedSymbol:
    """Load, validate and stamp one symbol's bars."""
    source = source_for(symbol, data)
    calendar: Calendar = source.calendar or default_calendar(symbol)
    cache_dir = data.cache_dir.expanduser()
    if isinstance(source, BundledSource):
        frame = read_bundled(symbol)  # read in the symbol's default calendar
        where = f"bundled {bundled_file(symbol).name}"
        origin: dict[str, object] = {"source": "bundled", "file": bundled_file(symbol).name}
    elif isinstance(source, CacheSource):
        entry = cached_entry(symbol, source, data)
        frame = read_entry(entry)
        where = f"cached {entry.label}"
        origin = {"source": "cache", "provider": entry.provider, "file": str(entry.path)}
        if symbol not in data.symbols:
            frame, origin = _after_bundled(symbol, frame, origin)
            logger.info("{}: reading the download ({}, through {}) instead of the bundled file",
                        symbol, entry.label, entry.last)
    elif isinstance(source, CsvSource):
        path = resolve_path(source.path, base_dir)
        frame = read_ohlcv_csv(path, calendar=calendar)
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
    return checked_bars(symbol, frame, where=where, calendar=calendar, origin=origin,
                        today=today, max_age=max_staleness(data)[calendar])


def _after_bundled(symbol: str, frame: pd.DataFrame, origin: dict[str, object]
                   ) -> tuple[pd.DataFrame, dict[str, object]]:
    """A download that starts after the bundled file (``data download --since``) continues
    the bundled bars: those dated before its first bar come first (recorded in the origin)."""
    if not bundled_file(symbol).is_file():
        return frame, origin
    bundled = read_bundled(symbol)
    before = bundled.loc[bundled.index < frame.index[0]]
    if before.empty:
        return frame, origin
    spliced = pd.concat([before.loc[:, frame.columns], frame])
    return spliced, {**origin, "bundled_until": f"{before.index[-1]:%Y-%m-%d}",
                     "bundled_file": bundled_file(symbol).name}


def checked_bars(symbol: str, frame: pd.DataFrame, *, where: str, calendar: Calendar,
                 origin: dict[str, object], today: dt.date | None = None,
                 max_age: pd.Timedelta | None = None) -> LoadedSymbol:
    """Validate a freshly loaded bars frame, stamp availability, describe it for the manifest.

    Gaps longer than ``max_age`` (default: the calendar's default max staleness) are logged
    as warnings, shorter ones as info; the first 20 spans are recorded in ``gap_spans``.
    """
    frame = frame.assign(volume=frame["volume"].fillna(0.0))
    validate_bars(frame, where=where, calendar=calendar, today=today)
    gaps = find_gaps(pd.DatetimeIndex(frame.index), calendar)
    limit = max_age if max_age is not None else DEFAULT_MAX_STALENESS[calendar]
    is_long = [pd.Timedelta(days=g.missing_days) > limit for g in gaps]
    long_gaps = [g for g, long in zip(gaps, is_long, strict=True) if long]
    for gap, long in zip(gaps, is_long, strict=True):
        if not long:
            logger.info("{}: {}", symbol, gap.describe(where))
    warnings = [f"{symbol}: {gap.describe(where)}" for gap in long_gaps[:MAX_LOGGED]]
    if len(long_gaps) > MAX_LOGGED:
        warnings.append(f"{symbol}: {where}: ... and {len(long_gaps) - MAX_LOGGED} more gaps "
                        f"longer than {limit / pd.Timedelta(days=1):g} days")
    for message in warnings:
        logger.warning("{}", message)
    origin = {
        **origin,
        "calendar": calendar,
        "first": frame.index[0].strftime("%Y-%m-%d"),
        "last": frame.index[-1].strftime("%Y-%m-%d"),
        "rows": len(frame),
        "gaps": len(gaps),
        "gap_spans": [gap.span for gap in gaps[:MAX_GAP_WARNINGS]],
        "sha": frame_digest(frame),
    }
    if warnings:
        origin["warnings"] = warnings
    return LoadedSymbol(SymbolBars.from_bars(symbol, calendar, frame), origin)


def report_staleness(
    history: MarketHistory, origins: dict[str, dict[str, object]]
) -> list[str]:
    """Warn about, and record in ``origins``, where an as-of joined symbol goes stale.

    Every symbol that is not traded is joined as of its availability; its stale spans (see
    :meth:`MarketHistory.stale_spans`) are logged as warnings, listed under ``stale_spans``
    in its origin and appended to its ``warnings``. Returns the warnings.
    """
    messages: list[str] = []
    for symbol in history.bars:
        if symbol in history.traded:
            continue
        spans = history.stale_spans(symbol)
        origin = origins.setdefault(symbol, {})
        origin["stale_spans"] = [
            f"{s.first:%Y-%m-%d}..{s.last:%Y-%m-%d}" for s in spans[:MAX_GAP_WARNINGS]]
        found = [span.describe() for span in spans[:MAX_LOGGED]]
        early = _before_first_bar(history, symbol, origin.get("first"))
        if early:
            found.insert(0, early)
        if len(spans) > MAX_LOGGED:
            found.append(f"{symbol}: ... and {len(spans) - MAX_LOGGED} more stale spans")
        for message in found:
            logger.warning("{}", message)
        if found:
            previous = origin.get("warnings")
            origin["warnings"] = [*(previous if isinstance(previous, list) else []), *found]
        messages.extend(found)
    return messages


STALE_AFTER_DAYS = 7


def stale_data_warning(history: MarketHistory, origins: Mapping[str, Mapping[str, object]],
                       config_file: str, today: dt.date | None = None) -> str | None:
    """One line when a run's last bar is more than :data:`STALE_AFTER_DAYS` days before
    ``today`` (default: today's UTC date): how old, the stalest symbol (the earliest last bar
    of every symbol read) and the command that refreshes the data; ``None`` when fresh."""
    if not len(history.clock):
        return None
    today = today or dt.datetime.now(dt.UTC).date()
    last = pd.Timestamp(history.labels()[-1]).date()
    age = (today - last).days
    if age <= STALE_AFTER_DAYS:
        return None
    lasts = {s: str(o["last"]) for s, o in origins.items() if o.get("last")}
    stalest = min(lasts, key=lambda s: lasts[s]) if lasts else ""
    ties = sum(1 for day in lasts.values() if day == lasts.get(stalest))
    who = (f"; stalest: {stalest}{f' and {ties - 1} more' if ties > 1 else ''}, last bar "
           f"{lasts[stalest]}" if stalest else "")
    return (f"the data end {last}, {age} days ago{who}; refresh them with "
            f"`papertrade data update {shlex.quote(config_file)}`")


def _before_first_bar(history: MarketHistory, symbol: str, label: object = None) -> str:
    """A warning when decisions come before ``symbol``'s first bar ('' when none do);
    ``label`` is the first bar's date (of the file, before truncation at the last decision)."""
    native = history.native(symbol)
    clock = history.clock
    first = pd.Timestamp(native.index[0]) if len(native) else None
    before = clock if first is None else clock[clock < first]
    if not len(before):
        return ""
    since = (f"no bar before {first:%Y-%m-%d %H:%M} UTC" if first is not None else
             f"no bar until after the last decision (first bar {label})" if label else
             "no bar at all")
    every = "all " if len(before) == len(clock) else ""
    return (f"{symbol}: {since}: missing at {every}{len(before)} decision(s) "
            f"{before[0]:%Y-%m-%d}..{before[-1]:%Y-%m-%d}")


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
    for name, day in (("start", start), ("end", end)):
        if day is not None and not dt.date(1900, 1, 1) <= day <= dt.date(2200, 12, 31):
            raise ConfigError(file, f"data.{name}", f"{day} is out of range",
                              f"pick a date between 1900-01-01 and 2200-12-31 (data.{name} "
                              f"or --{name})")
    history = MarketHistory.build(
        {s: ls.bars for s, ls in loaded.items()}, traded,
        start=pd.Timestamp(start) if start else None,
        end=pd.Timestamp(end) if end else None,
        max_staleness=max_staleness(data),
    )
    if len(history.clock) == 0:
        ranges = ", ".join(f"{s} {loaded[s].origin['first']}..{loaded[s].origin['last']}"
                           for s in traded)
        window = f"{start or 'start'}..{end or 'latest'}"
        raise capped(ConfigError(
            file, "data.start", f"no bars of the traded symbols in {window}",
            f"pick dates inside the available data ({ranges})",
        ))
    origins = {s: ls.origin for s, ls in loaded.items()}
    report_staleness(history, origins)
    return history, origins
