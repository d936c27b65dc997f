"""Sanity checks for bars frames: hard errors raise, calendar gaps come back as warnings.

Hard errors (one-line :class:`~papertrade.errors.DataError` naming the file or source, the first
offending date and what to do): missing columns, a non-date index, an empty frame, dates not
sorted ascending, duplicate dates, dates before 1900-01-01 or later than tomorrow (UTC: a file
running into the future is not history), NaN in open/high/low/close, prices that are not
finite, not positive or outside ``[1e-12, 1e12]``, negative or infinite volume, and
``high``/``low`` that do not bracket ``open``/``close`` (relative tolerance ``1e-9``).

Warnings (returned, never raised): calendar gaps. For ``crypto`` every missing calendar day is
reported; for ``us_equity`` only steps of more than 4 calendar days between consecutive bars
(weekends and weekend-adjacent holidays are normal). NaN volume is allowed: whether to fill it
with 0 is the caller's call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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
MIN_PRICE = 1e-12
MAX_PRICE = 1e12
EARLIEST_DATE = pd.Timestamp("1900-01-01")
FUTURE_TOLERANCE_DAYS = 1

_FIX_ROW = "fix or remove that row, or use another source"


def validate_bars(
    frame: pd.DataFrame, *, where: str, calendar: Calendar, today: dt.date | None = None
) -> list[str]:
    """Check a bars frame; raise :class:`DataError` on corrupt data, return gap warnings.

    ``where`` names the file or source in every message (e.g. ``"bundled RUT.csv"``).
    ``calendar`` selects the gap rule: ``crypto`` trades every day, ``us_equity`` warns only
    on steps longer than 4 calendar days between consecutive bars. ``today`` (default: the UTC
    date now) bounds the dates: a bar dated after ``today + 1 day`` is an error.
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
    _check_range(dates, where, today)
    _check_order(dates, where)
    _check_values(frame, where)
    gaps = find_gaps(dates, calendar)
    warnings = [gap.describe(where) for gap in gaps[:MAX_GAP_WARNINGS]]
    if len(gaps) > MAX_GAP_WARNINGS:
        warnings.append(f"{where}: ... and {len(gaps) - MAX_GAP_WARNINGS} more gaps")
    return warnings


def _day(value: object) -> str:
    return str(pd.Timestamp(value).strftime("%Y-%m-%d"))


def _check_range(dates: pd.DatetimeIndex, where: str, today: dt.date | None) -> None:
    """Dates from 1900-01-01 up to tomorrow (UTC): older is not market data, later not history."""
    today = today or dt.datetime.now(dt.UTC).date()
    latest = pd.Timestamp(today) + pd.Timedelta(days=FUTURE_TOLERANCE_DAYS)
    values = dates.to_numpy()
    early = np.flatnonzero(values < EARLIEST_DATE.to_datetime64())
    if early.size:
        i = int(early[0])
        raise DataError(
            f"{where}: date {_day(values[i])} (row {i + 1}) is before "
            f"{EARLIEST_DATE:%Y-%m-%d}; fix or remove that row"
        )
    future = np.flatnonzero(values > latest.to_datetime64())
    if future.size:
        i = int(future[0])
        later = f" and {future.size - 1} more" if future.size > 1 else ""
        raise DataError(
            f"{where}: date {_day(values[i])} (row {i + 1}{later}) is in the future (today is "
            f"{today:%Y-%m-%d} UTC); remove the rows after today"
        )


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
    volume = frame["volume"].to_numpy(dtype="float64", na_value=np.nan)
    check_rows(prices, volume, pd.DatetimeIndex(frame.index), where)


def check_rows(prices: np.ndarray, volume: np.ndarray,
               dates: pd.DatetimeIndex | np.ndarray, where: str) -> None:
    """The row rules on plain arrays (``prices``: open, high, low, close columns): what
    :func:`validate_bars` checks of each row, for callers that append a few rows to history
    already validated (the live feed)."""

    nan_rows = np.flatnonzero(np.isnan(prices).any(axis=1))
    if nan_rows.size:
        i = int(nan_rows[0])
        cols = [c for c, bad in zip(PRICE_COLUMNS, np.isnan(prices[i]), strict=True) if bad]
        raise DataError(
            f"{where}: NaN {'/'.join(cols)} on {_day(dates[i])}; {_FIX_ROW}"
        )

    names = (*PRICE_COLUMNS, "volume")
    table = np.column_stack([prices, volume])
    infinite = np.isinf(table)
    _first_bad(infinite, table, names, dates, where, "{name} {value} on {day} is not finite")
    with np.errstate(invalid="ignore"):
        negative = table < 0
    _first_bad(negative, table, names, dates, where, "negative {name} {value} on {day}")
    _first_bad(prices == 0, prices, PRICE_COLUMNS, dates, where,
               "{name} {value} on {day}: prices must be positive")
    _first_bad(
        (prices < MIN_PRICE) | (prices > MAX_PRICE), prices, PRICE_COLUMNS, dates, where,
        f"{{name}} {{value}} on {{day}} is outside [{MIN_PRICE:g}, {MAX_PRICE:g}]: not a price",
    )

    open_, high, low, close = prices.T
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high_bad = np.flatnonzero(high < top - RELATIVE_TOLERANCE * np.abs(top))
    low_bad = np.flatnonzero(low > bottom + RELATIVE_TOLERANCE * np.abs(bottom))
    rows = len(prices)
    first_high = int(high_bad[0]) if high_bad.size else rows
    first_low = int(low_bad[0]) if low_bad.size else rows
    if first_high < rows and first_high <= first_low:
        i = first_high
        raise DataError(
            f"{where}: high {high[i]:.10g} is below max(open, close) {top[i]:.10g} "
            f"on {_day(dates[i])}; {_FIX_ROW}"
        )
    if first_low < rows:
        i = first_low
        raise DataError(
            f"{where}: low {low[i]:.10g} is above min(open, close) {bottom[i]:.10g} "
            f"on {_day(dates[i])}; {_FIX_ROW}"
        )


def _first_bad(
    mask: np.ndarray, table: np.ndarray, names: tuple[str, ...],
    dates: pd.DatetimeIndex | np.ndarray,
    where: str, template: str,
) -> None:
    """Raise for the first row (then column) where ``mask`` holds."""
    rows = np.flatnonzero(mask.any(axis=1))
    if not rows.size:
        return
    i = int(rows[0])
    j = int(np.flatnonzero(mask[i])[0])
    problem = template.format(name=names[j], value=f"{table[i, j]:.10g}", day=_day(dates[i]))
    raise DataError(f"{where}: {problem}; {_FIX_ROW}")


@dataclass(frozen=True)
class Gap:
    """Consecutive bars further apart than the calendar allows."""

    before: pd.Timestamp  # the last bar before the gap
    after: pd.Timestamp  # the first bar after it
    calendar: Calendar

    @property
    def missing_days(self) -> int:
        """Calendar days without a bar."""
        return int((self.after - self.before).days) - 1

    @property
    def span(self) -> str:
        """``first..last`` missing day (one date when a single day is missing)."""
        first = self.before + pd.Timedelta(days=1)
        last = self.after - pd.Timedelta(days=1)
        return _day(first) if first == last else f"{_day(first)}..{_day(last)}"

    def describe(self, where: str) -> str:
        """One sentence for a log line."""
        n = self.missing_days
        return (
            f"{where}: no bars for {n} calendar day{'s' if n != 1 else ''} {self.span} "
            f"(between {_day(self.before)} and {_day(self.after)})"
            + ("; a 24/7 market should have a bar every day" if self.calendar == "crypto" else
               "; longer than a weekend plus holiday: check the source if the market was open")
        )


def find_gaps(dates: pd.DatetimeIndex, calendar: Calendar) -> list[Gap]:
    """Every gap in ``dates`` (sorted bar labels): for ``crypto`` any missing calendar day, for
    ``us_equity`` steps of more than 4 calendar days between consecutive bars."""
    days = pd.DatetimeIndex(dates).normalize()
    if len(days) < 2:
        return []
    step_days = (days[1:] - days[:-1]).days.to_numpy()
    limit = 1 if calendar == "crypto" else US_EQUITY_MAX_STEP_DAYS
    return [Gap(pd.Timestamp(days[int(i)]), pd.Timestamp(days[int(i) + 1]), calendar)
            for i in np.flatnonzero(step_days > limit)]
