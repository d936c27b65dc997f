"""Market history as a strategy sees it: every bar stamped with the time it became available.

The traded symbols define the *clock*: one decision time per traded bar, at the instant that bar
closed (for a crypto bar dated D: 00:00 UTC of D+1). Other series (the RUT, say) live on their
own calendars and are joined onto the clock *as of* their availability time, so a Monday-Friday
index drives a 7-day strategy without look-ahead: a decision at Sunday 00:00 UTC sees Friday's
close, never Monday's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from papertrade.data.bars import Calendar, available_at


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
class MarketHistory:
    """Everything a strategy may know at the last decision time of ``clock``.

    ``clock`` holds the decision times (UTC), ascending. ``bars`` holds every symbol's native
    bars, already truncated so that no bar became available after ``clock[-1]``.
    """

    clock: pd.DatetimeIndex
    bars: Mapping[str, SymbolBars]
    traded: tuple[str, ...]

    @classmethod
    def build(
        cls,
        bars: Mapping[str, SymbolBars],
        traded: Iterable[str],
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> MarketHistory:
        """The clock is the union of the traded symbols' availability times within the window.

        ``start``/``end`` bound the *bar labels* (dates) of the traded bars, inclusive.
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
        history = cls(clock=clock, bars=dict(bars), traded=traded)
        return history.truncate(clock[-1]) if len(clock) else history

    # ------------------------------------------------------------------ views

    @property
    def now(self) -> pd.Timestamp:
        """The latest decision time."""
        return pd.Timestamp(self.clock[-1])

    def native(self, symbol: str) -> pd.DataFrame:
        """``symbol``'s bars on its own calendar (index: availability time)."""
        return self.bars[symbol].frame

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

    def as_of(self, series: pd.Series) -> pd.Series:
        """Join a series indexed by availability time onto the clock, as of each decision.

        Each clock time gets the latest value available at or before it (NaN before the first).
        """
        joined = self.as_of_frame(series.to_frame("value"))["value"]
        return joined.rename(series.name)

    def as_of_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """:meth:`as_of` for every column of ``frame`` at once (one join)."""
        left = pd.DataFrame({"__time": self.clock})
        right = frame.reset_index(drop=True)
        right.insert(0, "__time", frame.index.astype(self.clock.dtype))
        joined = pd.merge_asof(left, right.sort_values("__time"), on="__time",
                               direction="backward")
        return joined.drop(columns="__time").set_axis(self.clock, axis=0)

    def labels(self) -> pd.DatetimeIndex:
        """The bar label (date) of each clock time: the traded bar that closed then."""
        labels = pd.Series(pd.NaT, index=self.clock, dtype="datetime64[us]")
        for symbol in self.traded:
            dates = self.native(symbol)["date"].reindex(self.clock)
            labels = labels.fillna(dates)
        return pd.DatetimeIndex(labels.to_numpy(), name="date")

    # ------------------------------------------------------------------ slicing

    def truncate(self, until: pd.Timestamp) -> MarketHistory:
        """The history as it was known at ``until``: later bars and decision times dropped."""
        until = pd.Timestamp(until)
        if until.tzinfo is None:
            until = until.tz_localize("UTC")
        clock = self.clock[self.clock <= until]
        bars = {
            name: SymbolBars(sb.symbol, sb.calendar, sb.frame.loc[sb.frame.index <= until])
            for name, sb in self.bars.items()
        }
        return MarketHistory(clock=clock, bars=bars, traded=self.traded)
