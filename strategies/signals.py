"""Pure signal helpers on a series' own calendar (no clock, no broker).

Everything here is causal: the value at a row uses that row and earlier rows only.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

Confirm = Literal["daily", "weekly", "monthly"]
_NEW_YORK = "America/New_York"
_CLOSE = pd.Timedelta(hours=16)


def prior_high(close: pd.Series, lookback: int | Literal["all"]) -> pd.Series:
    """Highest close of the ``lookback`` rows *before* each row (all earlier rows for "all").

    NaN until a full lookback exists, so no breakout fires on a short history.
    """
    if lookback == "all":
        return close.cummax().shift(1)
    return close.rolling(lookback, min_periods=lookback).max().shift(1)


def drought(close: pd.Series, level: pd.Series) -> pd.Series:
    """Rows since the previous row whose close was itself above its prior high.

    Before any such row, the count runs from the first row.
    """
    new_high = (close > level).to_numpy()
    positions = np.arange(len(close))
    last = np.where(new_high, positions, -1)
    last = np.maximum.accumulate(np.concatenate(([0], last[:-1])))
    return pd.Series(positions - last, index=close.index, dtype="int64")


def confirmation_points(
    dates: pd.Series, available: pd.DatetimeIndex, confirm: Confirm
) -> pd.Series:
    """For each row that closes a period, the time that period's close became known.

    ``dates`` are the bar labels (naive dates), ``available`` their availability times (UTC).
    Daily: every row, at its own availability. Weekly/monthly: the last row of each period,
    known once the period's last weekday session has closed (a Friday holiday makes Thursday the
    weekly close, known on Friday at 16:00 New York). Rows that close no period are absent.
    """
    avail = pd.Series(available, index=dates.index)
    if confirm == "daily":
        return avail
    labels = pd.DatetimeIndex(dates)
    freq = "W-SUN" if confirm == "weekly" else "M"
    periods = labels.to_period(freq)
    is_last = pd.Series(periods, index=dates.index).ne(
        pd.Series(periods, index=dates.index).shift(-1)
    )
    if confirm == "weekly":
        period_end = periods.end_time.normalize() - pd.Timedelta(days=2)  # Friday of the week
    else:
        month_end = periods.end_time.normalize()
        # last Monday-Friday of the month
        back = np.maximum(month_end.day_of_week.to_numpy() - 4, 0)
        period_end = month_end - pd.to_timedelta(back, unit="D")
    end_known = (pd.DatetimeIndex(period_end) + _CLOSE).tz_localize(_NEW_YORK).tz_convert("UTC")
    end_known = pd.Series(end_known.as_unit(avail.dt.unit), index=dates.index)
    known = avail.where(avail >= end_known, end_known)
    return known[is_last.to_numpy()]


def momentum(close: pd.DataFrame, days: int) -> pd.DataFrame:
    """Return over the last ``days`` rows; NaN where the history is shorter."""
    return close / close.shift(days) - 1.0


def returns(close: np.ndarray, days: int) -> np.ndarray:
    """:func:`momentum` on plain arrays (rows: time): the same values, bit for bit."""
    out = np.full(close.shape, np.nan)
    if len(close) > days:
        out[days:] = close[days:] / close[:-days] - 1.0
    return out
