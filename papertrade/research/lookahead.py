"""Look-ahead bias checker: does any decision change when the future changes?

A causal strategy's decision at time ``t`` depends only on bars available at ``t``. Two
experiments test that, at a set of *cut* times ``c`` (decision times):

- **truncation**: decide on the history as it was known at ``c`` (every bar that became available
  later removed; :meth:`MarketHistory.truncate`). The decision at ``c`` must equal the decision
  the whole history gives at ``c``. With every decision time as a cut this is exactly a live
  replay, so it runs on the strategy's incremental path (:meth:`Strategy.decide_latest`); a
  difference found there is confirmed by a full :meth:`Strategy.decide` on the truncated history,
  which tells look-ahead (the truncated decide differs too) from an incremental path that
  disagrees with ``decide`` (it does not);
- **scrambled future**: keep the whole history but replace every bar available after ``c`` by a
  scrambled one (each symbol's later log returns permuted, prices rebuilt from the last bar at or
  before ``c``, the bars' shapes kept). Every decision at or before ``c`` must be unchanged.

Weights are compared to within :data:`TOLERANCE`; events exactly. A violation names the first
time, the symbol and the size of the change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from papertrade.data.history import MarketHistory, SymbolBars
from papertrade.strategies.base import Decisions, Strategy, checked_decide

TOLERANCE = 1e-9
PRICE_COLUMNS = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Violation:
    """A decision that changed when the future did."""

    kind: str  # "truncated" | "scrambled" | "incremental"
    cut: pd.Timestamp  # the cut time of the experiment
    time: pd.Timestamp  # the decision that changed (at or before ``cut``)
    symbol: str  # the column whose weight changed, or "event"
    whole: float | str  # the value on the whole history
    changed: float | str  # the value in the experiment

    @property
    def size(self) -> float:
        """|change| of the weight (1.0 for an event that changed)."""
        if isinstance(self.whole, str) or isinstance(self.changed, str):
            return 1.0
        return abs(self.changed - self.whole)

    def describe(self) -> str:
        """One line: when, what and how much."""
        what = {
            "truncated": "with the history truncated there",
            "scrambled": f"with the bars after {self.cut:%Y-%m-%d %H:%M} UTC scrambled",
            "incremental": "on the incremental path (decide_latest) but not with decide on "
                           "the truncated history: decide_latest disagrees with decide",
        }[self.kind]
        if self.symbol == "event":
            change = f"event {self.whole!r} -> {self.changed!r}"
        else:
            change = f"{self.symbol} weight {self.whole:.6g} -> {self.changed:.6g} " \
                     f"(|change| {self.size:.3g})"
        return f"{self.time:%Y-%m-%d %H:%M} UTC: {change} {what}"


@dataclass
class LookaheadReport:
    """What the checker did and found."""

    strategy: str
    first: pd.Timestamp
    last: pd.Timestamp
    truncated_cuts: int = 0
    scrambled_cuts: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No decision changed in any experiment."""
        return not self.violations

    def first_violation(self, kind: str | None = None) -> Violation | None:
        """The earliest violating decision (of ``kind`` if given)."""
        found = [v for v in self.violations if kind is None or v.kind == kind]
        return min(found, key=lambda v: (v.time, v.cut)) if found else None

    def lines(self, limit: int = 5) -> list[str]:
        """The report for a terminal."""
        head = (f"lookahead: {self.strategy} on {self.first:%Y-%m-%d}..{self.last:%Y-%m-%d}: "
                f"{self.truncated_cuts} truncated and {self.scrambled_cuts} scrambled-future "
                "cuts")
        if self.clean:
            return [head, "clean: no decision changed when the future did"]
        times = sorted({v.time for v in self.violations})
        out = [head, f"LOOK-AHEAD: {len(times)} decision time(s) changed when the future did; "
                     f"first at {times[0]:%Y-%m-%d %H:%M} UTC"]
        for kind in ("truncated", "scrambled", "incremental"):
            first = self.first_violation(kind)
            if first is not None:
                out.append(f"  first {kind}: {first.describe()}")
        unique = {(v.time, v.kind): v for v in sorted(self.violations,
                                                      key=lambda v: (v.time, v.kind, -v.cut.value))}
        shown = list(unique.values())[:limit]
        out.append(f"  earliest {len(shown)} of {len(unique)} (time, experiment) pairs:")
        out.extend(f"    {v.describe()}" for v in shown)
        return out


def choose_cuts(whole: Decisions, cuts: int | None, seed: int = 0) -> pd.DatetimeIndex:
    """Every decision time but the last (``cuts`` None), or the neighbourhood of every event
    (the decision before, at and after it) plus ``cuts`` random decision times."""
    clock = pd.DatetimeIndex(whole.weights.index)
    if cuts is None:
        return clock[:-1]
    positions: set[int] = set()
    for at in np.flatnonzero(whole.events.astype(str).to_numpy() != "").tolist():
        positions.update({at - 1, at, at + 1})
    rng = np.random.default_rng(seed)
    candidates = np.arange(len(clock) - 1)
    positions.update(rng.choice(candidates, size=min(cuts, len(candidates)),
                                replace=False).tolist())
    return clock[sorted(p for p in positions if 0 <= p < len(clock) - 1)]


def _row_changes(kind: str, cut: pd.Timestamp, time: pd.Timestamp, whole: Decisions,
                 row: int, weights: pd.Series, event: str) -> list[Violation]:
    expected = whole.weights.iloc[row]
    found = [Violation(kind, cut, time, str(symbol), float(expected[symbol]),
                       float(weights[symbol]))
             for symbol in expected.index
             if not abs(float(weights[symbol]) - float(expected[symbol])) <= TOLERANCE]
    expected_event = str(whole.events.iloc[row])
    if str(event) != expected_event:
        found.append(Violation(kind, cut, time, "event", expected_event, str(event)))
    return found


def check_truncated(strategy: Strategy, history: MarketHistory, whole: Decisions,
                    cuts: Sequence[pd.Timestamp],
                    progress: Callable[[int], None] = lambda _: None) -> list[Violation]:
    """The decision at each cut, on the history known then, against the whole history's."""
    live = type(strategy)(strategy.params)  # a fresh instance: its own incremental state
    found: list[Violation] = []
    for done, cut in enumerate(cuts, 1):
        known = history.truncate(cut)
        latest = checked_decide(live, known, latest=True)
        row = whole.weights.index.get_loc(cut)
        changes = _row_changes("truncated", cut, cut, whole, row, latest.weights.iloc[-1],
                               str(latest.events.iloc[-1]))
        if changes:
            full = checked_decide(type(strategy)(strategy.params), known)
            confirmed = _row_changes("truncated", cut, cut, whole, row, full.weights.iloc[-1],
                                     str(full.events.iloc[-1]))
            found.extend(confirmed or [Violation("incremental", v.cut, v.time, v.symbol,
                                                 v.whole, v.changed) for v in changes])
        progress(done)
    return found


def scrambled(history: MarketHistory, cut: pd.Timestamp, rng: np.random.Generator
              ) -> MarketHistory:
    """``history`` with every bar available after ``cut`` replaced by a scrambled one."""
    bars: dict[str, SymbolBars] = {}
    for name, series in history.bars.items():
        frame = series.frame
        split = int(frame.index.searchsorted(cut, side="right"))
        if split == 0 or split >= len(frame):
            bars[name] = series
            continue
        closes = frame["close"].to_numpy(dtype=float)
        later = closes[split - 1:]
        steps = np.diff(np.log(later))
        path = closes[split - 1] * np.exp(np.cumsum(rng.permutation(steps)))
        scale = path / closes[split:]
        new = frame.copy()
        for column in PRICE_COLUMNS:
            if column in new.columns:
                values = new[column].to_numpy(dtype=float).copy()
                values[split:] *= scale
                new[column] = values
        bars[name] = SymbolBars(series.symbol, series.calendar, new)
    return MarketHistory(clock=history.clock, bars=bars, traded=history.traded,
                         max_staleness=history.max_staleness)


def check_scrambled(strategy: Strategy, history: MarketHistory, whole: Decisions,
                    cuts: Sequence[pd.Timestamp], seed: int = 0,
                    progress: Callable[[int], None] = lambda _: None) -> list[Violation]:
    """Every decision at or before each cut, with the future scrambled, against the whole
    history's; the first changed row per cut is reported."""
    rng = np.random.default_rng(seed)
    found: list[Violation] = []
    for done, cut in enumerate(cuts, 1):
        other = checked_decide(type(strategy)(strategy.params), scrambled(history, cut, rng))
        upto = int(whole.weights.index.searchsorted(cut, side="right"))
        a = whole.weights.to_numpy(dtype=float)[:upto]
        b = other.weights.to_numpy(dtype=float)[:upto]
        weight_rows = np.flatnonzero((np.abs(a - b) > TOLERANCE).any(axis=1))
        event_rows = np.flatnonzero(whole.events.astype(str).to_numpy()[:upto]
                                    != other.events.astype(str).to_numpy()[:upto])
        rows = [*weight_rows.tolist(), *event_rows.tolist()]
        if rows:
            row = min(rows)
            time = pd.Timestamp(whole.weights.index[row])
            found.extend(_row_changes("scrambled", cut, time, whole, row,
                                      other.weights.iloc[row], str(other.events.iloc[row])))
        progress(done)
    return found


def check_lookahead(strategy: Strategy, history: MarketHistory, *, cuts: int | None = 50,
                    scrambled_cuts: int | None = None, seed: int = 0,
                    progress: Callable[[str, int, int], None] = lambda *_: None
                    ) -> LookaheadReport:
    """Run both experiments. ``cuts``: None for every decision time, else the events'
    neighbourhoods plus that many random times. ``scrambled_cuts``: how many of those cuts
    (evenly spaced, event neighbourhoods first) also get a scrambled future; default every
    cut when ``cuts`` is a number, the events' neighbourhoods plus 100 with ``cuts`` None (a
    scrambled cut costs a whole-history decide)."""
    whole = checked_decide(strategy, history)
    chosen = choose_cuts(whole, cuts, seed)
    report = LookaheadReport(strategy.name, pd.Timestamp(history.clock[0]), history.now)
    if not len(chosen):
        return report
    limit = scrambled_cuts if scrambled_cuts is not None else (100 if cuts is None else None)
    futures = _spread(chosen, choose_cuts(whole, 0, seed), limit)
    progress("truncated", 0, len(chosen))
    report.violations.extend(check_truncated(
        strategy, history, whole, chosen, lambda n: progress("truncated", n, len(chosen))))
    report.truncated_cuts = len(chosen)
    progress("scrambled", 0, len(futures))
    report.violations.extend(check_scrambled(
        strategy, history, whole, futures, seed,
        lambda n: progress("scrambled", n, len(futures))))
    report.scrambled_cuts = len(futures)
    return report


def _spread(cuts: pd.DatetimeIndex, events: pd.DatetimeIndex, limit: int | None
            ) -> pd.DatetimeIndex:
    """``cuts`` reduced to the event neighbourhoods plus ``limit`` evenly spaced others."""
    if limit is None or len(cuts) <= limit:
        return cuts
    step = max(1, math.ceil(len(cuts) / max(limit, 1)))
    keep = cuts[::step][:limit] if limit > 0 else cuts[:0]
    return keep.union(events.intersection(cuts))
