"""Sanity checks for bars frames: hard errors raise, calendar gaps come back as warnings.

Hard errors (one-line :class:`~papertrade.errors.DataError` naming the file or source, the first
offending date and what to do): missing columns, a non-date index, an empty frame, dates not
sorted ascending, duplicate dates, NaN in open/high/low/close, negative prices or volume, and
``high``/``low`` that do not bracket ``open``/``close`` (relative tolerance ``1e-9``).

Warnings (returned, never raised): calendar gaps. For ``crypto`` every missing calendar day is
reported; for ``us_equity`` only steps of more than 4 calendar days between consecutive bars
(weekends and weekend-adjacent holidays are normal). NaN volume is allowed: whether to fill it
with 0 is the caller's call.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from papertrade.data.bars import COLUMNS
from papertrade.errors import DataError

Calendar = Literal["crypto", "us_equity"]

PRICE_COLUMNS = ("open", "high", "low", "close")
RELATIVE_TOLERANCE = 1e-9
US_EQUITY_MAX_STEP_DAYS = 4
MAX_GAP_WARNINGS = 20

_FIX_ROW = "fix or remove that row, or use another source"


def validate_bars(frame: pd.DataFrame, *, where: str, calendar: Calendar) -> list[str]:
    """Check a bars frame; raise :class:`DataError` on corrupt data, return gap warnings.

    ``where`` names the file or source in every message (e.g. ``"bundled RUT.csv"``).
    ``calendar`` selects the gap rule: ``crypto`` trades every day, ``us_equity`` warns only
    on steps longer than 4 calendar days between consecutive bars.
    """
    if calendar not in ("crypto", "us_equity"):
        raise ValueError(f"unknown calendar {calendar!r}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; "
            "expected date,open,high,low,close,volume"
        )
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(
            f"{where}: the index is not made of dates ({type(frame.index).__name__}); "
            "read the data with papertrade.data.bars.read_ohlcv_csv"
        )
    if frame.empty:
        raise DataError(f"{where}: no bars; check the source and the date range (data.start/end)")

    dates = frame.index
    if dates.hasnans:
        i = int(np.flatnonzero(dates.isna())[0])
        after = f" (row {i + 1}, after {_day(dates[i - 1])})" if i else f" (row {i + 1})"
        raise DataError(f"{where}: missing date{after}; write every date as YYYY-MM-DD")
    _check_order(dates, where)
    _check_values(frame, where)
    return _gap_warnings(dates, where, calendar)


def _day(value: object) -> str:
    return str(pd.Timestamp(value).strftime("%Y-%m-%d"))


def _check_order(dates: pd.DatetimeIndex, where: str) -> None:
    values = dates.to_numpy()
    if len(values) < 2:
        return
    step = values[1:] - values[:-1]
    backwards = np.flatnonzero(step < np.timedelta64(0, "ns"))
    if backwards.size:
        i = int(backwards[0])
        raise DataError(
            f"{where}: dates are not sorted ascending: {_day(values[i + 1])} comes after "
            f"{_day(values[i])}; sort the rows by date"
        )
    repeated = np.flatnonzero(step == np.timedelta64(0, "ns"))
    if repeated.size:
        day = values[int(repeated[0]) + 1]
        count = int((values == day).sum())
        raise DataError(
            f"{where}: duplicate date {_day(day)} ({count} rows); keep one row per date"
        )


def _check_values(frame: pd.DataFrame, where: str) -> None:
    prices = frame.loc[:, list(PRICE_COLUMNS)].to_numpy(dtype="float64", na_value=np.nan)
    dates = frame.index

    nan_rows = np.flatnonzero(np.isnan(prices).any(axis=1))
    if nan_rows.size:
        i = int(nan_rows[0])
        cols = [c for c, bad in zip(PRICE_COLUMNS, np.isnan(prices[i]), strict=True) if bad]
        raise DataError(
            f"{where}: NaN {'/'.join(cols)} on {_day(dates[i])}; {_FIX_ROW}"
        )

    volume = frame["volume"].to_numpy(dtype="float64", na_value=np.nan)
    names = (*PRICE_COLUMNS, "volume")
    table = np.column_stack([prices, volume])
    with np.errstate(invalid="ignore"):
        negative = table < 0
    negative_rows = np.flatnonzero(negative.any(axis=1))
    if negative_rows.size:
        i = int(negative_rows[0])
        j = int(np.flatnonzero(negative[i])[0])
        raise DataError(
            f"{where}: negative {names[j]} {table[i, j]:.10g} on {_day(dates[i])}; {_FIX_ROW}"
        )

    open_, high, low, close = prices.T
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high_bad = np.flatnonzero(high < top - RELATIVE_TOLERANCE * np.abs(top))
    low_bad = np.flatnonzero(low > bottom + RELATIVE_TOLERANCE * np.abs(bottom))
    first_high = int(high_bad[0]) if high_bad.size else len(frame)
    first_low = int(low_bad[0]) if low_bad.size else len(frame)
    if first_high < len(frame) and first_high <= first_low:
        i = first_high
        raise DataError(
            f"{where}: high {high[i]:.10g} is below max(open, close) {top[i]:.10g} "
            f"on {_day(dates[i])}; {_FIX_ROW}"
        )
    if first_low < len(frame):
        i = first_low
        raise DataError(
            f"{where}: low {low[i]:.10g} is above min(open, close) {bottom[i]:.10g} "
            f"on {_day(dates[i])}; {_FIX_ROW}"
        )


def _gap_warnings(dates: pd.DatetimeIndex, where: str, calendar: Calendar) -> list[str]:
    days = dates.normalize()
    if len(days) < 2:
        return []
    step_days = (days[1:] - days[:-1]).days.to_numpy()
    limit = 1 if calendar == "crypto" else US_EQUITY_MAX_STEP_DAYS
    gaps = np.flatnonzero(step_days > limit)
    warnings: list[str] = []
    for i in gaps[:MAX_GAP_WARNINGS]:
        before, after = days[int(i)], days[int(i) + 1]
        first = before + pd.Timedelta(days=1)
        last = after - pd.Timedelta(days=1)
        n = int(step_days[int(i)]) - 1
        span = _day(first) if n == 1 else f"{_day(first)}..{_day(last)}"
        warnings.append(
            f"{where}: no bars for {n} calendar day{'s' if n != 1 else ''} {span} "
            f"(between {_day(before)} and {_day(after)})"
            + ("; a 24/7 market should have a bar every day" if calendar == "crypto" else
               "; longer than a weekend plus holiday: check the source if the market was open")
        )
    if len(gaps) > MAX_GAP_WARNINGS:
        warnings.append(f"{where}: ... and {len(gaps) - MAX_GAP_WARNINGS} more gaps")
    return warnings
