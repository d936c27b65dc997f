"""Market history as a strategy sees it: every bar stamped with the time it became available.

The traded symbols define the *clock*: one decision time per traded bar, at the instant that bar
closed (for a crypto bar dated D: 00:00 UTC of D+1). Other series (the RUT, say) live on their
own calendars and are joined onto the clock *as of* their availability time, so a Monday-Friday
index drives a 7-day strategy without look-ahead: a decision at Sunday 00:00 UTC sees Friday's
close, never Monday's.

**Staleness.** An as-of joined value is carried forward only while it is fresh: at a decision
time, a value that became available more than the *max age* earlier is missing (NaN), exactly
as before the series' first bar. A symbol's max age is ``max_staleness[calendar]`` (config
``data.max_staleness``, in calendar days; defaults: ``us_equity`` 7 days, i.e. 5 sessions,
which no market closure in the bundled RUT reaches, and ``crypto`` 2 days). A frame *derived*
from a symbol's native bars (a signal computed on the index's own calendar, indexed by
availability time) is joined with that symbol's max age by
``history.as_of_frame(frame, source=symbol)``; ``max_age=`` sets it explicitly; with neither,
the most lenient max age among the history's calendars applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from papertrade.data.bars import Calendar, available_at

DEFAULT_MAX_STALENESS: Mapping[str, pd.Timedelta] = {
    "us_equity": pd.Timedelta(days=7),
    "crypto": pd.Timedelta(days=2),
}
"""Default max age of an as-of joined value, per calendar (config ``data.max_staleness``)."""

_LONGEST_AGE = pd.Timedelta(days=36_600)  # a century: merge_asof's tolerance stays finite


def _default_staleness() -> dict[str, pd.Timedelta]:
    return dict(DEFAULT_MAX_STALENESS)


@dataclass(frozen=True)
class SymbolBars:
    """One symbol's native daily bars, indexed by availability time (UTC)."""

    symbol: str
    calendar: Calendar
    frame: pd.DataFrame  # index: available_at (UTC); columns: date (label), open..volume

    @classmethod
    def from_bars(cls, symbol: str, calendar: Calendar, bars: pd.DataFrame) -> SymbolBars:
        """Stamp a bars frame (index = bar date label) with availability times."""
        frame = bars.copy()
        frame.insert(0, "date", frame.index)
        frame.index = available_at(pd.DatetimeIndex(bars.index), calendar).rename("available_at")
        return cls(symbol, calendar, frame)


@dataclass(frozen=True)
class StaleSpan:
    """Consecutive decision times at which a symbol's latest bar was older than its max age."""

    symbol: str
    first: pd.Timestamp  # first decision time without a fresh bar
    last: pd.Timestamp  # last one
    decisions: int
    last_bar: pd.Timestamp  # label of the bar that had gone stale
    max_age: pd.Timedelta

    def describe(self) -> str:
        """One sentence for the run log."""
        days = self.max_age / pd.Timedelta(days=1)
        return (
            f"{self.symbol}: no bar newer than {days:g} days at {self.decisions} decision(s) "
            f"{self.first:%Y-%m-%d}..{self.last:%Y-%m-%d} (last bar {self.last_bar:%Y-%m-%d}); "
            "treated as missing there, not carried forward (data.max_staleness)"
        )


@dataclass(frozen=True)
class MarketHistory:
    """Everything a strategy may know at the last decision time of ``clock``.

    ``clock`` holds the decision times (UTC), ascending. ``bars`` holds every symbol's native
    bars, already truncated so that no bar became available after ``clock[-1]``.
    ``max_staleness`` maps a calendar to the max age of its as-of joined values.
    """

    clock: pd.DatetimeIndex
    bars: Mapping[str, SymbolBars]
    traded: tuple[str, ...]
    max_staleness: Mapping[str, pd.Timedelta] = field(default_factory=_default_staleness)

    @classmethod
    def build(
        cls,
        bars: Mapping[str, SymbolBars],
        traded: Iterable[str],
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        max_staleness: Mapping[str, pd.Timedelta] | None = None,
    ) -> MarketHistory:
        """The clock is the union of the traded symbols' availability times within the window.

        ``start``/``end`` bound the *bar labels* (dates) of the traded bars, inclusive.
        ``max_staleness`` overrides :data:`DEFAULT_MAX_STALENESS` per calendar.
        """
        traded = tuple(traded)
        times: set[pd.Timestamp] = set()
        for symbol in traded:
            frame = bars[symbol].frame
            labels = pd.DatetimeIndex(frame["date"])
            mask = pd.Series(True, index=frame.index)
            if start is not None:
                mask &= labels >= start
            if end is not None:
                mask &= labels <= end
            times.update(frame.index[mask.to_numpy()])
        clock = pd.DatetimeIndex(sorted(times), name="time")
        if clock.tz is None:
            clock = clock.tz_localize("UTC")
        staleness = {**DEFAULT_MAX_STALENESS, **(max_staleness or {})}
        history = cls(clock=clock, bars=dict(bars), traded=traded, max_staleness=staleness)
        return history.truncate(clock[-1]) if len(clock) else history

    # ------------------------------------------------------------------ views

    @property
    def now(self) -> pd.Timestamp:
        """The latest decision time."""
        return pd.Timestamp(self.clock[-1])

    def native(self, symbol: str) -> pd.DataFrame:
        """``symbol``'s bars on its own calendar (index: availability time)."""
        return self.bars[symbol].frame

    def max_age(self, symbol: str) -> pd.Timedelta:
        """How old ``symbol``'s latest bar may be at a decision before it counts as missing."""
        calendar = self.bars[symbol].calendar
        return pd.Timedelta(self.max_staleness.get(calendar, DEFAULT_MAX_STALENESS[calendar]))

    def traded_field(self, field_name: str, symbols: Iterable[str] | None = None) -> pd.DataFrame:
        """A field of traded bars on the clock: the bar that closed exactly at each time.

        NaN where a symbol has no bar closing then (not listed yet, or delisted): nothing is
        carried forward, so an asset joins the universe when its history begins.
        """
        names = list(self.traded if symbols is None else symbols)
        columns = {s: self.native(s)[field_name].reindex(self.clock) for s in names}
        return pd.DataFrame(columns, index=self.clock)

    def closes(self, symbols: Iterable[str] | None = None) -> pd.DataFrame:
        """Closes of traded symbols on the clock (see :meth:`traded_field`)."""
        return self.traded_field("close", symbols)

    def as_of(
        self, series: pd.Series, *, source: str | None = None,
        max_age: pd.Timedelta | None = None,
    ) -> pd.Series:
        """Join a series indexed by availability time onto the clock, as of each decision.

        Each clock time gets the latest value available at or before it, if that value is at
        most the max age old (see :meth:`as_of_frame`); otherwise NaN, as before the first.
        """
        joined = self.as_of_frame(series.to_frame("value"), source=source, max_age=max_age)
        return joined["value"].rename(series.name)

    def as_of_frame(
        self, frame: pd.DataFrame, *, source: str | None = None,
        max_age: pd.Timedelta | None = None,
    ) -> pd.DataFrame:
        """:meth:`as_of` for every column of ``frame`` at once (one join).

        ``source``: the symbol ``frame`` derives from (its calendar's max age applies);
        ``max_age``: an explicit max age. With neither, the most lenient max age among the
        calendars of this history's symbols applies. A row older than the max age at a
        decision time is missing there (every column NaN), never carried.
        """
        limit = self._limit(source, max_age)
        left = pd.DataFrame({"__time": self.clock})
        right = frame.reset_index(drop=True)
        right.insert(0, "__time", frame.index.astype(self.clock.dtype))
        joined = pd.merge_asof(left, right.sort_values("__time"), on="__time",
                               direction="backward", tolerance=limit)
        return joined.drop(columns="__time").set_axis(self.clock, axis=0)

    def _limit(self, source: str | None, max_age: pd.Timedelta | None) -> pd.Timedelta:
        if max_age is not None:
            limit = pd.Timedelta(max_age)
            if limit < pd.Timedelta(0):
                raise ValueError(f"max_age must not be negative (got {limit})")
        elif source is not None:
            limit = self.max_age(source)
        else:
            calendars: set[str] = {sb.calendar for sb in self.bars.values()}
            limit = max(pd.Timedelta(self.max_staleness.get(c, DEFAULT_MAX_STALENESS[c]))
                        for c in calendars or set(self.max_staleness))
        return min(limit, _LONGEST_AGE)

    def fresh(self, symbol: str, times: pd.DatetimeIndex | None = None) -> np.ndarray:
        """Per decision time (default: the clock), whether ``symbol`` has a bar available then
        that is at most :meth:`max_age` old: the rule :meth:`as_of` applies, for a strategy
        that carries a state derived from ``symbol`` itself (False before the first bar)."""
        when = self.clock if times is None else pd.DatetimeIndex(times)
        latest, age = self._latest(symbol, when)
        fresh: np.ndarray = (latest >= 0) & (age <= self.max_age(symbol).value // 1000)
        return fresh

    def _latest(self, symbol: str, times: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """Row of ``symbol``'s latest bar available at each time (-1: none) and its age (us)."""
        bars = pd.DatetimeIndex(self.native(symbol).index)
        if bars.tz is None:
            bars = bars.tz_localize("UTC")
        if times.tz is None:
            times = times.tz_localize("UTC")
        stamps = bars.as_unit("us").asi8
        at = times.as_unit("us").asi8
        latest = np.searchsorted(stamps, at, side="right") - 1
        age = np.where(latest >= 0, at - stamps[np.maximum(latest, 0)], 0) if len(stamps) else (
            np.zeros(len(at), dtype=np.int64))
        return latest, age

    def stale_spans(self, symbol: str) -> list[StaleSpan]:
        """Where :meth:`as_of` of ``symbol`` is missing although it has an earlier bar."""
        if not len(self.clock) or self.native(symbol).empty:
            return []
        latest, _ = self._latest(symbol, self.clock)
        stale = (latest >= 0) & ~self.fresh(symbol)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], stale.astype(np.int8), [0]))))
        labels = pd.DatetimeIndex(self.native(symbol)["date"])
        return [
            StaleSpan(symbol, pd.Timestamp(self.clock[begin]), pd.Timestamp(self.clock[stop - 1]),
                      int(stop - begin), pd.Timestamp(labels[latest[begin]]),
                      self.max_age(symbol))
            for begin, stop in zip(edges[::2], edges[1::2], strict=True)
        ]

    def labels(self) -> pd.DatetimeIndex:
        """The bar label (date) of each clock time: the traded bar that closed then."""
        labels = pd.Series(pd.NaT, index=self.clock, dtype="datetime64[us]")
        for symbol in self.traded:
            dates = self.native(symbol)["date"].reindex(self.clock)
            labels = labels.fillna(dates)
        return pd.DatetimeIndex(labels.to_numpy(), name="date")

    # ------------------------------------------------------------------ slicing

    def tail(self, n: int) -> MarketHistory:
        """The same history with only the last ``n`` decision times on the clock (every bar
        kept: native series and as-of joins see the same past)."""
        if n < 0:
            raise ValueError(f"tail needs n >= 0 (got {n})")
        clock = self.clock[len(self.clock) - min(n, len(self.clock)):]
        return MarketHistory(clock=clock, bars=self.bars, traded=self.traded,
                             max_staleness=self.max_staleness)

    def dated_closes(self, symbols: Iterable[str]) -> dict[str, pd.Series]:
        """Each symbol's closes on its own calendar, indexed by bar date (for benchmarks)."""
        return {s: pd.Series(self.native(s)["close"].to_numpy(),
                             index=pd.DatetimeIndex(self.native(s)["date"]), name=s)
                for s in symbols}

    def truncate(self, until: pd.Timestamp) -> MarketHistory:
        """The history as it was known at ``until``: later bars and decision times dropped."""
        until = pd.Timestamp(until)
        if until.tzinfo is None:
            until = until.tz_localize("UTC")
        clock = self.clock[: self.clock.searchsorted(until, side="right")]
        bars = {name: sb if not len(sb.frame) or sb.frame.index[-1] <= until  # nothing later
                else SymbolBars(sb.symbol, sb.calendar,
                                sb.frame.iloc[: sb.frame.index.searchsorted(until, "right")])
                for name, sb in self.bars.items()}
        return MarketHistory(clock=clock, bars=bars, traded=self.traded,
                             max_staleness=self.max_staleness)
