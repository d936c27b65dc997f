"""Daily klines from an exchange's public API through ccxt, cached on disk.

``ccxt`` is imported only here, lazily inside the functions (``import ccxt`` costs ~0.4 s and
~76 MB; a backtest on bundled or CSV data must never pay for it). Candles are labelled by the
UTC day they open; the forming candle (whose close time is after ``now``) is never returned nor
cached. Closed candles are final, so a range the cache covers is served without any request.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from loguru import logger

from papertrade.data.bars import normalise_frame
from papertrade.data.cache import (
    merge_bars,
    offline_hint,
    read_cached,
    short_reason,
    slice_bars,
    write_cached,
)
from papertrade.data.validate import validate_bars
from papertrade.errors import DataError

SOURCE = "ccxt"
PAGE_LIMIT = 1000
SMALLEST_PAGE = 100  # the page bound assumes exchanges return at least this many candles
SUPPORTED_TIMEFRAMES = {"1d": 86_400_000}
_DAY = dt.timedelta(days=1)


def fetch_ccxt(
    market: str,
    *,
    symbol: str,
    exchange: str,
    timeframe: str,
    start: dt.date | None,
    end: dt.date | None,
    cache_dir: Path,
    make_client: Callable[[], Any] | None = None,
    now: dt.datetime | None = None,
    on_page: Callable[[dt.date, dt.date], None] | None = None,
) -> pd.DataFrame:
    """Closed daily candles of ``market`` on ``exchange`` dated within ``[start, end]``.

    ``symbol`` is the config key (used in messages), ``market`` the exchange's symbol.
    ``start=None``: from the market's first candle; ``end=None``: through the last closed
    candle at ``now`` (default: the current time; naive values are taken as UTC). The cache
    under ``cache_dir/ccxt/<exchange>/`` is reused and refreshed incrementally (from the last
    cached candle on). ``make_client`` builds the ccxt client (default: the public
    ``ccxt.<exchange>`` client with rate limiting). ``on_page`` is called after each page with
    the first and the last day downloaded so far (a progress bar).

    Raises :class:`DataError` (one line, with what to do) for an unknown exchange, an unknown
    market, an unreachable exchange, corrupt candles, or no candles in the range.
    """
    import ccxt  # noqa: TID251 - the one allowed place outside the live path

    if timeframe not in SUPPORTED_TIMEFRAMES:
        raise DataError(
            f"{symbol}: timeframe {timeframe!r} is not supported for ccxt downloads; "
            f"set data.timeframe to one of {', '.join(SUPPORTED_TIMEFRAMES)}"
        )
    step_ms = SUPPORTED_TIMEFRAMES[timeframe]
    now = _as_utc(now or dt.datetime.now(dt.UTC))
    now_ms = int(now.timestamp() * 1000)
    last_closed = (now - dt.timedelta(milliseconds=step_ms)).date()
    if start is not None and end is not None and start > end:
        raise DataError(f"{symbol}: start {start} is after end {end}; fix data.start/data.end")
    if start is not None and start > last_closed:
        raise DataError(
            f"{symbol}: no closed daily candle from {start} yet (last closed: {last_closed}); "
            "move data.start earlier"
        )
    want_end = last_closed if end is None else min(end, last_closed)

    key = {"source": SOURCE, "namespace": exchange, "name": market, "timeframe": timeframe}
    cached = read_cached(cache_dir, **key)
    if cached is not None and cached.covers(start, want_end):
        return _result(cached.frame, symbol, exchange, market, start, end)

    if cached is not None and (cached.covers_from is None or (
            start is not None and start >= cached.covers_from)):
        since_day: dt.date | None = cached.last_date  # again: cheap, and keeps ranges contiguous
        covers_from = cached.covers_from
    else:
        since_day = start
        covers_from = start
    since_ms = 0 if since_day is None else _day_ms(since_day)
    # through the wanted end, and across the cached range when starting before it, so that the
    # cache stays one contiguous checked range
    until = want_end if cached is None else max(want_end, cached.last_date)
    where = f"{exchange} {market}"

    client: Any = None
    try:
        client = make_client() if make_client is not None else default_client(exchange, symbol)
        candles, reached_end = _paginate(
            client, market, timeframe, since_ms, _day_ms(until), step_ms, on_page
        )
    except ccxt.BadSymbol as exc:
        markets = [m for m in getattr(client, "symbols", None) or [] if m != market]
        hint = _did_you_mean(market, markets)
        raise DataError(
            f"{symbol}: {exchange} has no market '{market}' ({short_reason(exc)}); "
            f"{hint + ' ' if hint else ''}set data.symbols.{symbol}.market to the exchange's "
            "symbol, e.g. BTC/USDT"
        ) from None
    except ccxt.NetworkError as exc:  # includes ExchangeNotAvailable, RequestTimeout
        raise DataError(
            f"{symbol}: cannot download from {exchange} ({short_reason(exc)}); "
            f"{offline_hint(symbol)}"
        ) from None
    except ccxt.BaseError as exc:
        raise DataError(
            f"{symbol}: {exchange} refused the download of {market} ({short_reason(exc)}); "
            f"check data.symbols.{symbol}, or {offline_hint(symbol).removeprefix('offline? ')}"
        ) from None
    except _TooManyPages as exc:
        raise DataError(
            f"{symbol}: gave up downloading {market} from {exchange} after {exc.pages} pages "
            "(the exchange kept returning candles); set data.start/data.end to a shorter range"
        ) from None

    new = candles_to_bars(candles, step_ms, now_ms, where)
    if not new.empty:
        try:
            validate_bars(new, where=where, calendar="crypto")
        except DataError as exc:
            raise DataError(f"{symbol}: {exc}") from None
    merged = merge_bars(cached.frame if cached is not None else None, new)
    if merged.empty:
        raise DataError(
            f"{symbol}: {exchange} returned no closed daily candles for {market} from "
            f"{since_day or 'its listing'} to {want_end}; check data.start/data.end "
            "(the market may not have traded then)"
        )
    checked = until
    if not reached_end:  # the exchange has nothing after the last candle (or ignores since)
        checked = min(until, pd.Timestamp(merged.index[-1]).date())
        logger.warning(
            "{}: {} has no daily candles for {} after {} (delisted or halted?); the bars end "
            "there", symbol, exchange, market, f"{merged.index[-1]:%Y-%m-%d}",
        )
    if cached is not None and cached.checked_through is not None:
        checked = max(checked, cached.checked_through)
    write_cached(cache_dir, **key, frame=merged, covers_from=covers_from, checked_through=checked,
                 symbol=symbol)
    return _result(merged, symbol, exchange, market, start, end)


def default_client(exchange: str, symbol: str = "") -> Any:
    """The public (key-less) ccxt client of ``exchange``, rate-limited; spot markets only on
    binance. :class:`DataError` with a did-you-mean for an unknown exchange."""
    import ccxt  # noqa: TID251 - the one allowed place outside the live path

    if exchange not in ccxt.exchanges:
        hint = _did_you_mean(exchange, ccxt.exchanges)
        key = f"data.symbols.{symbol}.exchange" if symbol else "the exchange"
        raise DataError(
            f"{symbol + ': ' if symbol else ''}unknown exchange '{exchange}'; "
            f"{hint + ' ' if hint else ''}set {key} to a ccxt exchange id (e.g. binance)"
        )
    options: dict[str, Any] = {}
    if exchange == "binance":
        options["fetchMarkets"] = {"types": ["spot"]}
    return getattr(ccxt, exchange)({"enableRateLimit": True, "options": options})


class _TooManyPages(Exception):
    def __init__(self, pages: int) -> None:
        super().__init__(f"{pages} pages")
        self.pages = pages


def _paginate(
    client: Any, market: str, timeframe: str, since_ms: int, last_open_ms: int, step_ms: int,
    on_page: Callable[[dt.date, dt.date], None] | None = None,
) -> tuple[list[Sequence[Any]], bool]:
    """Every candle opening in ``[since_ms, last_open_ms]`` (and whatever pages bring beyond).

    Advances ``since`` past the last returned candle; stops once the candle opening at
    ``last_open_ms`` is in, on an empty page, or on a page that brings nothing new (an exchange
    ignoring ``since``; ccxt itself drops candles older than ``since``, which then shows as an
    empty page). Returns the candles and whether ``last_open_ms`` was reached. The number of
    pages is bounded (assuming at least :data:`SMALLEST_PAGE` candles a page):
    :class:`_TooManyPages` beyond.
    """
    expected = max(0, (last_open_ms - since_ms) // step_ms + 1)
    max_pages = math.ceil(expected / SMALLEST_PAGE) + 3
    rows: list[Sequence[Any]] = []
    cursor = since_ms
    for _ in range(max_pages):
        page = client.fetch_ohlcv(market, timeframe, since=cursor, limit=PAGE_LIMIT)
        if not page:
            return rows, False
        fresh = [c for c in page if c and c[0] is not None and int(c[0]) >= cursor]
        if not fresh:
            return rows, False
        rows.extend(fresh)
        cursor = max(int(c[0]) for c in fresh) + step_ms
        if on_page is not None:
            on_page(_ms_day(int(rows[0][0])), _ms_day(cursor - step_ms))
        if cursor > last_open_ms:
            return rows, True
    raise _TooManyPages(max_pages)


def candles_to_bars(
    candles: list[Sequence[Any]], step_ms: int, now_ms: int, where: str
) -> pd.DataFrame:
    """ccxt ``[ms, o, h, l, c, v]`` rows -> bars frame, forming candle dropped."""
    closed = [c for c in candles if int(c[0]) + step_ms <= now_ms]
    raw = pd.DataFrame(
        [list(c[:6]) for c in closed],
        columns=["ms", "open", "high", "low", "close", "volume"],
    )
    raw["date"] = pd.to_datetime(raw["ms"].astype("int64"), unit="ms")
    frame = normalise_frame(raw.drop(columns="ms"), where)
    return frame.loc[~frame.index.duplicated(keep="last")].sort_index()


def _result(
    frame: pd.DataFrame, symbol: str, exchange: str, market: str,
    start: dt.date | None, end: dt.date | None,
) -> pd.DataFrame:
    out = slice_bars(frame, start, end)
    if out.empty:
        raise DataError(
            f"{symbol}: no {exchange} candles for {market} from {start or 'its listing'} to "
            f"{end or 'now'}; widen data.start/data.end (cached: "
            f"{frame.index[0]:%Y-%m-%d}..{frame.index[-1]:%Y-%m-%d})"
        )
    return out.copy()


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.8)
    return f"did you mean '{close[0]}'?" if close else ""


def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _ms_day(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date()


def _day_ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()) * 1000
