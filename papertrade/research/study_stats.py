"""The statistics of an event study, on plain arrays (validated on synthetic data in tests/).

Forward returns sampled at every decision time overlap, so neighbouring values share most of
their path: naive standard errors are far too small. Three honest views of the same question
("is the mean after an event different from any other day?"):

- **placebos**: ``N`` random event sets with the same count and minimum spacing, from the same
  window; the p-value is the share of placebo means at least as far from their centre as the
  observed mean (two-sided), with the usual ``+1`` so it is never 0;
- **stationary block bootstrap** (``arch``; Politis & Romano 1994) of the time series of
  (forward return, event dummy) pairs, blocks at least as long as the horizon, for a percentile
  interval of the effect (event mean minus non-event mean);
- **Newey–West / HAC** t-statistic of the event dummy in an OLS of the forward return on a
  constant and the dummy (``statsmodels``), with ``horizon - 1`` lags at least.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def min_spacing(positions: np.ndarray) -> int:
    """The smallest gap (in decision times) between consecutive events; 1 for fewer than 2."""
    if len(positions) < 2:
        return 1
    return max(1, int(np.min(np.diff(np.sort(positions)))))


def placebo_sets(rng: np.random.Generator, n_times: int, count: int, spacing: int,
                 sets: int) -> np.ndarray:
    """``sets`` random event sets (rows, sorted positions in ``0..n_times-1``), each of
    ``count`` events at least ``spacing`` apart, uniform over all such sets.

    A set of positions ``p_0 < ... < p_{k-1}`` with gaps >= g maps one-to-one onto ``k``
    distinct values ``q_j = p_j - j (g - 1)`` in ``0..M-1``, ``M = n - (k-1)(g-1)``: draw those.
    """
    if count <= 0 or sets <= 0:
        return np.zeros((max(sets, 0), 0), dtype=np.int64)
    slots = n_times - (count - 1) * (spacing - 1)
    if slots < count:
        raise ValueError(f"{count} events {spacing} apart do not fit in {n_times} times")
    out = np.empty((sets, count), dtype=np.int64)
    todo = np.arange(sets)
    if count * count <= slots:  # rejection: few collisions, fully vectorised
        for _ in range(50):
            draw = np.sort(rng.integers(0, slots, size=(len(todo), count)), axis=1)
            ok = np.all(np.diff(draw, axis=1) > 0, axis=1) if count > 1 else np.ones(
                len(todo), dtype=bool)
            out[todo[ok]] = draw[ok]
            todo = todo[~ok]
            if not len(todo):
                break
    for row in todo:  # dense sets: one exact draw without replacement each
        out[row] = np.sort(rng.choice(slots, size=count, replace=False))
    return out + np.arange(count, dtype=np.int64) * (spacing - 1)


@dataclass(frozen=True)
class Placebo:
    """The placebo distribution of the event mean of one series."""

    means: np.ndarray  # one per placebo set (NaN: no value at any of its dates)
    p_two_sided: float
    p_up: float


def placebo_test(values: np.ndarray, sets: np.ndarray, observed: float) -> Placebo:
    """Placebo means of ``values`` (NaN ignored) at each row of ``sets``, and the p-values
    of ``observed``: two-sided around the placebo centre, and one-sided upward."""
    if not sets.size or math.isnan(observed):
        return Placebo(np.full(len(sets), np.nan), math.nan, math.nan)
    picked = values[sets]
    valid = ~np.isnan(picked)
    counts = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, np.where(valid, picked, 0.0).sum(axis=1) / counts, np.nan)
    finite = means[~np.isnan(means)]
    if not len(finite):
        return Placebo(means, math.nan, math.nan)
    centre = float(np.mean(finite))
    tol = 1e-12 * max(1.0, abs(observed))
    far = np.abs(finite - centre) >= abs(observed - centre) - tol
    up = finite >= observed - tol
    n = len(finite)
    return Placebo(means, float((1 + far.sum()) / (n + 1)), float((1 + up.sum()) / (n + 1)))


def block_length(values: np.ndarray, horizon_bars: int) -> int:
    """The stationary bootstrap's mean block: the Politis–White optimum (``arch``) of the
    series, but never shorter than the horizon (the overlap of forward returns)."""
    from arch.bootstrap import optimal_block_length

    clean = values[~np.isnan(values)]
    best = 1.0
    if len(clean) > 20 and np.std(clean) > 0:
        found = float(optimal_block_length(clean)["stationary"].iloc[0])
        best = found if math.isfinite(found) else 1.0
    return max(int(horizon_bars), math.ceil(best), 1)


def bootstrap_counts(n_times: int, block: int, reps: int, seed: int) -> np.ndarray:
    """How often each time appears in each stationary-bootstrap resample (``reps x n``).

    The resamples are ``arch``'s :class:`~arch.bootstrap.StationaryBootstrap` indices; as
    counts, every statistic that is a ratio of sums is one matrix product away.
    """
    from arch.bootstrap import StationaryBootstrap

    boot = StationaryBootstrap(block, np.arange(n_times), seed=seed)
    counts = np.zeros((reps, n_times))
    for r in range(reps):
        counts[r] = np.bincount(boot.update_indices(), minlength=n_times)
    return counts


def bootstrap_effects(counts: np.ndarray, values: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Effect (event mean minus non-event mean) of every column of ``values`` (rows: times)
    in each resample described by ``counts``; NaN where a resample lacks either group."""
    valid = ~np.isnan(values)
    filled = np.where(valid, values, 0.0)
    on = events.astype(float)[:, None]
    off = 1.0 - on
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_on = (counts @ (filled * on)) / (counts @ (valid * on))
        mean_off = (counts @ (filled * off)) / (counts @ (valid * off))
    return np.asarray(mean_on - mean_off)


def effect(values: np.ndarray, events: np.ndarray) -> float:
    """Event mean minus non-event mean of ``values`` (NaN ignored)."""
    valid = ~np.isnan(values)
    on, off = values[valid & events], values[valid & ~events]
    return float(on.mean() - off.mean()) if len(on) and len(off) else math.nan


def percentile_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    """The percentile interval of the finite ``draws`` (NaN, NaN if fewer than 20)."""
    finite = draws[np.isfinite(draws)]
    if len(finite) < 20:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Hac:
    """The event dummy's coefficient in OLS with Newey–West standard errors."""

    coef: float
    t: float
    p: float
    lags: int


def hac_test(values: np.ndarray, events: np.ndarray, lags: int) -> Hac:
    """OLS of ``values`` on a constant and the ``events`` dummy (NaN rows dropped), HAC
    covariance with ``lags`` lags (Bartlett kernel, small-sample correction)."""
    import statsmodels.api as sm

    valid = ~np.isnan(values)
    y, d = values[valid], events[valid].astype(float)
    if d.sum() < 1 or (1 - d).sum() < 2 or len(y) <= lags + 2:
        return Hac(math.nan, math.nan, math.nan, lags)
    fit = sm.OLS(y, np.column_stack([np.ones(len(y)), d])).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
    coef, t, p = float(fit.params[1]), float(fit.tvalues[1]), float(fit.pvalues[1])
    return Hac(coef, t if math.isfinite(t) else math.nan, p if math.isfinite(p) else math.nan,
               lags)
