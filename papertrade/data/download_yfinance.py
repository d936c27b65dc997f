"""Daily bars from Yahoo Finance through yfinance, cached on disk and refreshed incrementally.

yfinance is imported lazily, inside the default fetcher, so that a backtest on bundled or CSV
data never pays for it. Bars are unadjusted (``auto_adjust=False``; ``Adj Close`` is dropped) and
labelled by the exchange's local session date.

Cache rule: a bar dated ``today`` (UTC date by default) or later may be an intraday snapshot. It
is returned (stamp availability with :func:`papertrade.data.bars.available_at` before using it)
but never cached; the next call downloads it again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from loguru import logger

from papertrade.data.bars import COLUMNS, default_calendar, normalise_frame
from papertrade.data.cache import (
    CachedBars,
    merge_bars,
    offline_hint,
    read_cached,
    short_reason,
    slice_bars,
    write_cached,
)
from papertrade.data.validate import validate_bars
from papertrade.errors import DataError

SOURCE = "yfinance"
NAMESPACE = "yahoo"
TIMEFRAME = "1d"
TIMEOUT_SECONDS = 20.0

Fetch = Callable[[str, dt.date | None, dt.date | None], pd.DataFrame]
"""``fetch(ticker, start, end)``: Yahoo-shaped daily bars dated within ``[start, end]``, both
inclusive; ``start=None`` means from the first bar, ``end=None`` through today."""

_MISSING_DATA_ERRORS = {
    "YFTickerMissingError", "YFTzMissingError", "YFPricesMissingError", "YFInvalidPeriodError",
}
_DAY = dt.timedelta(days=1)


def fetch_yfinance(
    ticker: str,
    *,
    symbol: str,
    start: dt.date | None,
    end: dt.date | None,
    cache_dir: Path,
    fetch: Fetch | None = None,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Daily bars of Yahoo ``ticker`` dated within ``[start, end]``, as a bars frame.

    ``symbol`` is the config key (used in messages). ``start=None``: from the first bar;
    ``end=None``: through ``today`` (default: today's UTC date). The cache under
    ``cache_dir/yfinance/yahoo/`` is reused: a range it covers is served without any download,
    otherwise only the days from the last cached bar on are requested (that bar again, in case
    it was revised). ``fetch`` replaces the yfinance call (tests; see :data:`Fetch`).

    Raises :class:`DataError` (one line, with what to do) when the download fails and the cache
    does not cover the range, when Yahoo returns no bars, or when the bars are corrupt. When the
    download fails but the cache covers every complete day of the range, the cache is served
    with a warning.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    if start is not None and end is not None and start > end:
        raise DataError(f"{symbol}: start {start} is after end {end}; fix data.start/data.end")
    if start is not None and start > today:
        raise DataError(f"{symbol}: start {start} is in the future; fix data.start")
    want_end = today if end is None else min(end, today)
    final_end = min(want_end, today - _DAY)  # the last day whose bar can be final

    key = {"source": SOURCE, "namespace": NAMESPACE, "name": ticker, "timeframe": TIMEFRAME}
    cached = read_cached(cache_dir, **key)
    if cached is not None and want_end == final_end and cached.covers(start, final_end):
        return _result(cached.frame, symbol, ticker, start, end)

    req_start, req_end, covers_from = _request_range(cached, start, want_end)
    where = f"Yahoo Finance {ticker}"
    try:
        raw = (fetch or yahoo_daily_bars)(ticker, req_start, req_end)
        new = slice_bars(normalise_yahoo(raw, where), req_start, req_end)
        new = new.loc[~new.index.duplicated(keep="last")]
    except Exception as exc:  # any failure of the download or of its shape
        return _serve_cache_or_raise(exc, cached, symbol, ticker, start, end, final_end)
    if new.empty:
        if cached is not None and cached.covers(start, final_end):
            return _serve_cache(cached, symbol, ticker, start, end, "Yahoo returned no bars")
        raise DataError(
            f"{symbol}: Yahoo Finance returned no bars for {ticker} from "
            f"{req_start or 'its first bar'} to {req_end}; check the ticker "
            f"(data.symbols.{symbol}.ticker) and the dates (data.start/data.end)"
        )
    try:
        validate_bars(new, where=where, calendar=default_calendar(symbol))
    except DataError as exc:
        raise DataError(f"{symbol}: {exc}") from None

    is_final = new.index < pd.Timestamp(today)
    merged = merge_bars(cached.frame if cached is not None else None, new.loc[is_final])
    if not merged.empty:
        checked = min(req_end, today - _DAY)
        if cached is not None and cached.checked_through is not None:
            checked = max(checked, cached.checked_through)
        write_cached(cache_dir, **key, frame=merged, covers_from=covers_from,
                     checked_through=checked, symbol=symbol)
    full = merge_bars(merged, new.loc[~is_final]) if (~is_final).any() else merged
    return _result(full, symbol, ticker, start, end)


def _request_range(
    cached: CachedBars | None, start: dt.date | None, want_end: dt.date
) -> tuple[dt.date | None, dt.date, dt.date | None]:
    """``(first, last)`` day to ask Yahoo for, and the cache's ``covers_from`` afterwards.

    The range is chosen so that the cache stays one contiguous, checked range.
    """
    if cached is None:
        return start, want_end, start
    starts_inside = cached.covers_from is None or (
        start is not None and start >= cached.covers_from)
    if starts_inside:
        # from the last cached bar (again: it may have been revised) to the wanted end
        return cached.last_date, max(want_end, cached.last_date), cached.covers_from
    # the cache starts too late: download from start across the whole cached range
    return start, max(want_end, cached.last_date), start


def _result(
    frame: pd.DataFrame, symbol: str, ticker: str, start: dt.date | None, end: dt.date | None
) -> pd.DataFrame:
    out = slice_bars(frame, start, end)
    if out.empty:
        raise DataError(
            f"{symbol}: no Yahoo Finance bars for {ticker} from {start or 'the first bar'} to "
            f"{end or 'today'}; widen data.start/data.end"
        )
    return out.copy()


def _serve_cache(
    cached: CachedBars, symbol: str, ticker: str, start: dt.date | None, end: dt.date | None,
    reason: str,
) -> pd.DataFrame:
    logger.warning(
        "{}: cannot refresh {} from Yahoo Finance ({}); using the cached bars through {}",
        symbol, ticker, reason, cached.last_date,
    )
    return _result(cached.frame, symbol, ticker, start, end)


def _serve_cache_or_raise(
    exc: Exception, cached: CachedBars | None, symbol: str, ticker: str,
    start: dt.date | None, end: dt.date | None, final_end: dt.date,
) -> pd.DataFrame:
    reason = str(exc) if isinstance(exc, DataError) else short_reason(exc)
    if cached is not None and cached.covers(start, final_end):
        return _serve_cache(cached, symbol, ticker, start, end, reason)
    if isinstance(exc, DataError):
        raise DataError(f"{symbol}: {reason}") from None
    if type(exc).__name__ in _MISSING_DATA_ERRORS:
        raise DataError(
            f"{symbol}: Yahoo Finance has no data for {ticker} ({reason}); check the ticker "
            f"(data.symbols.{symbol}.ticker) and the dates (data.start/data.end)"
        ) from None
    raise DataError(
        f"{symbol}: cannot download {ticker} from Yahoo Finance ({reason}); {offline_hint(symbol)}"
    ) from None


# --------------------------------------------------------------------------- yfinance itself


def yahoo_daily_bars(ticker: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """The default :data:`Fetch`: unadjusted daily bars from yfinance (imported here, lazily).

    Errors propagate as exceptions: for the duration of the call yfinance's
    ``config.debug.hide_exceptions`` is switched off and its logger is captured instead of
    printed (process-wide settings: do not call this from several threads at once).
    """
    import yfinance as yf

    kwargs: dict[str, Any] = {
        "interval": "1d", "auto_adjust": False, "actions": False, "timeout": TIMEOUT_SECONDS,
    }
    if start is None:
        kwargs["period"] = "max"
    else:
        kwargs["start"] = start.isoformat()
    if end is not None:
        kwargs["end"] = (end + _DAY).isoformat()  # Yahoo's end is exclusive
    with _captured_yfinance_log() as records:
        hide = yf.config.debug.hide_exceptions
        yf.config.debug.hide_exceptions = False  # raise network errors instead of logging them
        try:
            frame: pd.DataFrame = yf.Ticker(ticker).history(**kwargs)
        finally:
            yf.config.debug.hide_exceptions = hide
    if frame is None or frame.empty:
        errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
        if errors:
            raise RuntimeError(errors[-1].strip().splitlines()[-1])
        return pd.DataFrame()
    return frame


@contextlib.contextmanager
def _captured_yfinance_log() -> Iterator[list[logging.LogRecord]]:
    """Collect yfinance's log records instead of letting them reach stderr."""
    records: list[logging.LogRecord] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    yf_logger = logging.getLogger("yfinance")
    handler = _Collect(level=logging.WARNING)
    propagate = yf_logger.propagate
    yf_logger.addHandler(handler)
    yf_logger.propagate = False
    try:
        yield records
    finally:
        yf_logger.removeHandler(handler)
        yf_logger.propagate = propagate


def normalise_yahoo(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    """yfinance output (``Ticker.history`` or ``download``) -> bars frame.

    Accepts MultiIndex columns (one ticker), capitalised names, ``Adj Close`` (dropped: bars are
    unadjusted) and a tz-aware index (its local wall date is kept: a Tokyo session stays on its
    Tokyo date). All-NaN rows (Yahoo's placeholders) are dropped.
    """
    if raw is None or raw.empty:
        return pd.DataFrame(columns=list(COLUMNS), index=pd.DatetimeIndex([], name="date"),
                            dtype="float64")
    frame = raw.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = _price_level(frame.columns, where)
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    frame = frame.drop(columns=[c for c in ("adj close", "adj_close") if c in frame.columns])
    if isinstance(frame.index, pd.DatetimeIndex):
        if frame.index.tz is not None:
            frame.index = frame.index.tz_localize(None)
        frame.index.name = "date"
    prices = [c for c in ("open", "high", "low", "close") if c in frame.columns]
    if prices:
        frame = frame.dropna(how="all", subset=prices)
    return normalise_frame(frame, where)


def _price_level(columns: pd.MultiIndex, where: str) -> pd.Index:
    """The level of yfinance's MultiIndex columns that names the price fields."""
    wanted = {"open", "high", "low", "close"}
    for level in range(columns.nlevels):
        names = {str(v).strip().lower() for v in columns.get_level_values(level)}
        if wanted <= names:
            others = [columns.get_level_values(i).unique() for i in range(columns.nlevels)
                      if i != level]
            if any(len(values) > 1 for values in others):
                raise DataError(f"{where}: several tickers in one download; fetch one ticker")
            return columns.get_level_values(level)
    raise DataError(f"{where}: no open/high/low/close columns in the download")
