"""Why a decision cannot be made now, in words a user can act on (``live --once``).

A decision at a traded bar's close needs that bar from the exchange, and every other input
(the RUT, say) no older than ``data.max_staleness``. These functions say which input is
missing, since when, and when the next one will be published (its calendar's close time).
"""

from __future__ import annotations

import pandas as pd

from papertrade.data.bars import available_at
from papertrade.data.history import MarketHistory


def _utc(time: pd.Timestamp) -> str:
    return str(time.strftime("%Y-%m-%d %H:%M UTC"))


def next_close(history: MarketHistory, symbol: str, after: pd.Timestamp) -> pd.Timestamp:
    """When the first bar of ``symbol`` closing after ``after`` is published (weekdays only
    for US equities; holidays are not known here, so this is the earliest it can be)."""
    calendar = history.bars[symbol].calendar
    day = (after.tz_convert("America/New_York") if calendar == "us_equity" else after)
    date = pd.Timestamp(day.date())
    for offset in range(0, 8):
        candidate = date + pd.Timedelta(days=offset)
        if calendar == "us_equity" and candidate.weekday() >= 5:
            continue
        when = available_at(pd.DatetimeIndex([candidate]), calendar)[0]
        if when > after:
            return pd.Timestamp(when)
    raise AssertionError("unreachable")  # pragma: no cover


def missing_bar(history: MarketHistory, time: pd.Timestamp, venue: str) -> str:
    """Why no traded bar closes at ``time`` in ``history`` (truncated at ``time``)."""
    late = []
    for symbol in history.traded:
        native = history.native(symbol)
        if not len(native) or native.index[-1] != time:
            last = (f"latest {native['date'].iloc[-1]:%Y-%m-%d}" if len(native)
                    else "no candle at all")
            late.append(f"{symbol} ({last})")
    which = ", ".join(late) or ", ".join(history.traded)
    return f"{venue} has not published the candle closing at {_utc(time)} for {which}"


def stale_inputs(history: MarketHistory, time: pd.Timestamp,
                 origins: dict[str, dict[str, object]]) -> list[str]:
    """One sentence per non-traded input whose latest bar at ``time`` is older than its max
    age (the strategy would see it as missing)."""
    problems = []
    for symbol in history.bars:
        if symbol in history.traded:
            continue
        native = history.native(symbol)
        known = native[native.index <= time]
        limit = history.max_age(symbol)
        source = str((origins.get(symbol) or {}).get("source", "its source"))
        if not len(known):
            problems.append(f"{symbol} has no close published before {_utc(time)} in {source}")
            continue
        published = pd.Timestamp(known.index[-1])
        if time - published <= limit:
            continue
        date = pd.Timestamp(known["date"].iloc[-1])
        upcoming = next_close(history, symbol, time)
        problems.append(
            f"the latest {symbol} close in {source} is of {date:%Y-%m-%d}, "
            f"{(time - published).days} days old (data.max_staleness allows "
            f"{limit.days}); the next {symbol} close is not published until {_utc(upcoming)}"
            + (": configure a live source for it (data.symbols)" if source == "bundled"
               else ""))
    return problems
