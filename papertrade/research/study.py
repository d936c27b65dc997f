"""The event study: what each symbol did after each of the strategy's own events.

:func:`compute_study` works on a history and the strategy's :class:`Decisions` (no I/O), so the
tests can hand it synthetic data with a known answer; :func:`run_study` (in
:mod:`.study_run`) wires it to a config the way the backtest does. The timing rule is in
:mod:`.study_events`, the statistics in :mod:`.study_stats`, the words in :mod:`.study_verdict`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from papertrade.data.history import MarketHistory
from papertrade.errors import StrategyError
from papertrade.research import study_stats as st
from papertrade.research.study_events import (
    Prices,
    decision_ns,
    forward_drawdowns,
    forward_returns,
    incomplete,
    paths,
)
from papertrade.strategies.base import Decisions
from papertrade.util.text import one_line

DEFAULT_HORIZONS = (7, 30, 90, 180, 365)
HIST_BINS = 40
MIN_CI_EVENTS = 3


@dataclass(frozen=True)
class StudyOptions:
    """What to study and how hard to test it."""

    horizons: tuple[int, ...] = DEFAULT_HORIZONS
    event: str | None = None  # one kind, or every kind (each studied on its own)
    placebos: int = 10_000
    bootstrap: int = 1_000
    level: float = 0.95
    seed: int = 0


@dataclass
class StudyData:
    """Everything a study folder holds, as frames (see :mod:`.study_folder`)."""

    kinds: list[str]
    symbols: list[str]
    events: pd.DataFrame
    summary: pd.DataFrame
    paths: pd.DataFrame
    placebos: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def column(symbol: str, horizon: int, what: str = "") -> str:
    """An ``events.csv`` column: ``BTC/USDT:90d`` or ``BTC/USDT:90d:maxdd``."""
    return f"{symbol}:{horizon}d" + (f":{what}" if what else "")


def event_rows(decisions: Decisions, kind: str | None) -> tuple[np.ndarray, list[str]]:
    """Positions (on the clock) and kinds of the strategy's events, optionally one kind."""
    events = decisions.events
    if len(events) != len(decisions.weights):
        raise StrategyError(one_line(
            f"the strategy's events have {len(events)} rows for {len(decisions.weights)} "
            "decision times; Decisions.events must be indexed like the weights"))
    kinds = events.fillna("").astype(str).to_numpy()
    chosen = (kinds != "") if kind is None else (kinds == kind)
    positions = np.flatnonzero(chosen)
    return positions, [str(k) for k in kinds[positions]]


def horizon_bars(clock: pd.DatetimeIndex, horizon: int) -> int:
    """How many decision times a horizon of calendar days spans (7 a week on a crypto clock,
    about 5 on a weekday one)."""
    if len(clock) < 2:
        return max(1, horizon)
    step = float(np.median(np.diff(decision_ns(clock)))) / 86_400e9
    return max(1, round(horizon / max(step, 1e-9)))


def independent(positions: np.ndarray, bars: int) -> int:
    """How many of the events have windows that overlap no earlier kept one (greedy)."""
    kept, last = 0, -(10**12)
    for p in np.sort(positions):
        if p - last >= bars:
            kept, last = kept + 1, int(p)
    return kept


def compute_study(history: MarketHistory, decisions: Decisions, symbols: list[str],
                  options: StudyOptions) -> StudyData:
    """Forward returns, drawdowns and statistics of ``symbols`` after each event."""
    horizons = sorted(set(options.horizons))
    clock = history.clock
    times = decision_ns(clock)
    positions, kinds_at = event_rows(decisions, options.event)
    kinds = list(dict.fromkeys(kinds_at)) or [options.event or "event"]
    labels = history.labels()
    prices = {s: Prices.of(history, s) for s in symbols}
    fwd = {s: forward_returns(prices[s], times, horizons) for s in symbols}
    late = {s: incomplete(prices[s], times[positions], horizons) for s in symbols}
    dds = {s: forward_drawdowns(prices[s], times[positions], horizons) for s in symbols}
    events = _events_frame(labels, clock, positions, kinds_at, symbols, horizons, fwd, dds,
                           late)
    path_frame, any_dd = _paths_frame(prices, symbols, times, positions, kinds_at, labels,
                                      horizons)
    any_dd = {s: np.where(np.isnan(fwd[s]), np.nan, any_dd[s]) for s in symbols}
    rng = np.random.default_rng(options.seed)
    masks = {k: np.isin(np.arange(len(clock)), positions[np.asarray(kinds_at) == k])
             for k in kinds}
    sets = {k: _placebo_sets(rng, len(clock), np.flatnonzero(m), options.placebos)
            for k, m in masks.items()}
    rows: list[dict[str, object]] = []
    hist_rows: list[dict[str, object]] = []
    for j, h in enumerate(horizons):
        bars = horizon_bars(clock, h)
        matrix = np.column_stack([fwd[s][:, j] for s in symbols])
        counts, block = None, math.nan
        if options.bootstrap > 0 and positions.size and len(clock) > 1:
            block = st.block_length(matrix[:, 0], bars)
            counts = st.bootstrap_counts(len(clock), block, options.bootstrap,
                                         options.seed + 7919 * (j + 1))
        all_effects = (st.bootstrap_effects_by(counts, matrix, [masks[k] for k in kinds])
                       if counts is not None else [np.full((0, len(symbols)), np.nan)] * len(kinds))
        for kind, effects in zip(kinds, all_effects, strict=True):
            mask = masks[kind]
            placebo = (st.placebo_means(matrix, sets[kind]) if sets[kind].size
                       else np.full((len(sets[kind]), len(symbols)), np.nan))
            for c, symbol in enumerate(symbols):
                mine = np.asarray(kinds_at) == kind
                row, hist = _stats_row(kind, symbol, h, bars, matrix[:, c], mask,
                                       late[symbol][mine, j], placebo[:, c], effects[:, c],
                                       options)
                drops = dds[symbol][mine, j]
                drops = drops[~np.isnan(drops)]
                row["mean_maxdd"] = _mean(drops)
                row["worst_maxdd"] = float(drops.min()) if len(drops) else math.nan
                row["any_mean_maxdd"] = _mean(any_dd[symbol][:, j][
                    ~np.isnan(any_dd[symbol][:, j])])
                row["block"] = block
                rows.append(row)
                hist_rows.extend(hist)
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    order = (summary["event"].map(kinds.index) * len(symbols)
             + summary["symbol"].map(symbols.index)) * len(horizons) + summary["horizon"].map(
        horizons.index)
    summary = summary.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)
    notes = []
    if positions.size and positions[0] == 0:
        first = kinds_at[0]
        note = (f"the '{first}' on {labels[0]:%Y-%m-%d} is on the window's first bar: it may "
                "only mean the strategy was already in that state when the window began, not a "
                "fresh signal (an earlier --start tells)")
        notes.append(note)
        mine = summary["event"] == first
        summary.loc[mine, "note"] = [f"{note}; {n}" if n else note
                                     for n in summary.loc[mine, "note"]]
    hist_frame = pd.DataFrame(hist_rows, columns=["event", "symbol", "horizon", "left",
                                                  "right", "count"])
    return StudyData(kinds, symbols, events, summary, path_frame, hist_frame, notes)


def _placebo_sets(rng: np.random.Generator, n_times: int, positions: np.ndarray,
                  sets: int) -> np.ndarray:
    if not positions.size or sets <= 0:
        return np.zeros((0, 0), dtype=np.int64)
    return st.placebo_sets(rng, n_times, len(positions), st.min_spacing(positions), sets)


SUMMARY_COLUMNS = [
    "event", "symbol", "horizon", "events", "complete", "incomplete", "unavailable",
    "independent", "mean", "median", "hit_rate", "mean_maxdd", "worst_maxdd",
    "any_n", "any_mean", "any_median", "any_hit_rate", "any_mean_maxdd",
    "effect", "ci_low", "ci_high", "ci_level", "block", "hac_t", "hac_p", "hac_lags",
    "placebos", "placebo_mean", "placebo_p", "placebo_p_up", "note",
]


def _stats_row(kind: str, symbol: str, horizon: int, bars: int, values: np.ndarray,
               mask: np.ndarray, late: np.ndarray, placebo: np.ndarray, effects: np.ndarray,
               options: StudyOptions) -> tuple[dict[str, object], list[dict[str, object]]]:
    on = values[mask]
    done = on[~np.isnan(on)]
    anyv = values[~np.isnan(values)]
    n_events, n_late = int(mask.sum()), int(late.sum())
    row: dict[str, object] = {
        "event": kind, "symbol": symbol, "horizon": horizon, "events": n_events,
        "complete": len(done), "incomplete": n_late,
        "unavailable": n_events - len(done) - n_late,
        "independent": independent(np.flatnonzero(mask & ~np.isnan(values)), bars),
        "mean": _mean(done), "median": float(np.median(done)) if len(done) else math.nan,
        "hit_rate": float(np.mean(done > 0)) if len(done) else math.nan,
        "any_n": len(anyv), "any_mean": _mean(anyv),
        "any_median": float(np.median(anyv)) if len(anyv) else math.nan,
        "any_hit_rate": float(np.mean(anyv > 0)) if len(anyv) else math.nan,
        "ci_level": options.level, "placebos": len(placebo),
    }
    low, high = (st.percentile_interval(effects, options.level) if len(done) >= MIN_CI_EVENTS
                 else (math.nan, math.nan))  # resampling one or two events means nothing
    hac = st.hac_test(values, mask, max(bars - 1, 1))
    row.update(effect=st.effect(values, mask), ci_low=low, ci_high=high, hac_t=hac.t,
               hac_p=hac.p, hac_lags=hac.lags)
    p_two, p_up = st.placebo_p(placebo, float(row["mean"]))  # type: ignore[arg-type]
    finite = placebo[np.isfinite(placebo)]
    row.update(placebo_mean=_mean(finite), placebo_p=p_two, placebo_p_up=p_up,
               note=_note(n_events, len(done), n_late, horizon))
    hist: list[dict[str, object]] = []
    if len(finite):
        counts, edges = np.histogram(finite, bins=HIST_BINS)
        hist = [{"event": kind, "symbol": symbol, "horizon": horizon, "left": float(a),
                 "right": float(b), "count": int(c)}
                for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    return row, hist


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _note(n_events: int, complete: int, late: int, horizon: int) -> str:
    if n_events == 0:
        return "no events: nothing to measure"
    parts = []
    if late:
        parts.append(f"{late} of {n_events} event(s) incomplete: {horizon}d runs past the data")
    if n_events - complete - late:
        parts.append(f"{n_events - complete - late} without a price (not listed yet or a gap)")
    if complete == 0:
        parts.append("no complete horizon: no statistic")
    elif complete < 5:
        parts.append(f"only {complete} complete: too few for any conclusion")
    return "; ".join(parts)


def _events_frame(labels: pd.DatetimeIndex, clock: pd.DatetimeIndex, positions: np.ndarray,
                  kinds_at: list[str], symbols: list[str], horizons: list[int],
                  fwd: dict[str, np.ndarray], dds: dict[str, np.ndarray],
                  late: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame({
        "date": [labels[p].strftime("%Y-%m-%d") for p in positions],
        "time": [clock[p].strftime("%Y-%m-%dT%H:%M:%SZ") for p in positions],
        "event": kinds_at,
    })
    gone = np.zeros((len(positions), len(horizons)), dtype=bool)
    for s in symbols:
        gone |= late[s]
    frame["incomplete"] = [" ".join(f"{h}d" for h, g in zip(horizons, row, strict=True) if g)
                           for row in gone]
    cells: dict[str, np.ndarray] = {}
    for s in symbols:
        for j, h in enumerate(horizons):
            cells[column(s, h)] = fwd[s][positions, j]
            cells[column(s, h, "maxdd")] = dds[s][:, j]
    return pd.concat([frame, pd.DataFrame(cells, index=frame.index)], axis=1)


def _paths_frame(prices: dict[str, Prices], symbols: list[str], times: np.ndarray,
                 positions: np.ndarray, kinds_at: list[str], labels: pd.DatetimeIndex,
                 horizons: list[int]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Event-aligned paths (``SYMBOL|DATE|KIND``) and the unconditional mean and quartiles
    (``SYMBOL|any:mean``, ``:p25``, ``:p75``) at each day offset up to the longest horizon;
    and, from the same paths, every decision time's forward maximum drawdown per horizon."""
    days = max(horizons)
    cells: dict[str, np.ndarray] = {"day": np.arange(days + 1)}
    drawdowns: dict[str, np.ndarray] = {}
    for s in symbols:
        every = paths(prices[s], times, days)
        level = 1 + every
        with np.errstate(invalid="ignore"):
            deepest = np.fmin.accumulate(level / np.fmax.accumulate(level, axis=1) - 1, axis=1)
        drawdowns[s] = deepest[:, horizons]
        for p, kind in zip(positions, kinds_at, strict=True):
            cells[f"{s}|{labels[p]:%Y-%m-%d}|{kind}"] = every[p]
        mean, low, high = _column_stats(every)
        cells[f"{s}|any:mean"], cells[f"{s}|any:p25"], cells[f"{s}|any:p75"] = mean, low, high
    return pd.DataFrame(cells), drawdowns


def _column_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, 25th and 75th percentile (linear) of each column, NaN ignored; one sort instead
    of ``nanpercentile``'s per-column loop."""
    counted = np.sum(~np.isnan(values), axis=0)
    ordered = np.sort(values, axis=0)  # NaN last
    cols = np.arange(values.shape[1])
    out = []
    for q in (0.25, 0.75):
        pos = q * np.maximum(counted - 1, 0)
        below = np.floor(pos).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(counted - 1, 0))
        frac = pos - below
        value = ordered[below, cols] * (1 - frac) + ordered[above, cols] * frac
        out.append(np.where(counted > 0, value, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counted > 0, np.nansum(values, axis=0) / counted, np.nan)
    return mean, out[0], out[1]
