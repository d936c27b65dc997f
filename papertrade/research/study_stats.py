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


def placebo_means(values: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """The mean of each column of ``values`` (rows: times; NaN ignored) at each placebo set
    (rows of ``sets``): ``sets x columns``, NaN where a set has no value in that column."""
    picked = values[sets]  # sets x count x columns
    valid = ~np.isnan(picked)
    counts = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.where(valid, picked, 0.0).sum(axis=1) / counts, np.nan)


def placebo_p(means: np.ndarray, observed: float) -> tuple[float, float]:
    """(two-sided, upward) p-values of ``observed`` against the finite placebo ``means``:
    the share at least as far from the placebo centre (at least as high), with ``+1``."""
    finite = means[np.isfinite(means)]
    if not len(finite) or not math.isfinite(observed):
        return math.nan, math.nan
    centre = float(np.mean(finite))
    tol = 1e-12 * max(1.0, abs(observed))
    far = int((np.abs(finite - centre) >= abs(observed - centre) - tol).sum())
    up = int((finite >= observed - tol).sum())
    n = len(finite)
    return (1 + far) / (n + 1), (1 + up) / (n + 1)


def placebo_test(values: np.ndarray, sets: np.ndarray, observed: float) -> Placebo:
    """Placebo means of the series ``values`` at each row of ``sets`` and the p-values of
    ``observed`` (:func:`placebo_means`, :func:`placebo_p`)."""
    if not sets.size:
        return Placebo(np.full(len(sets), np.nan), math.nan, math.nan)
    means = placebo_means(values[:, None], sets)[:, 0]
    two, up = placebo_p(means, observed)
    return Placebo(means, two, up)


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
    return bootstrap_effects_by(counts, values, [events])[0]


def bootstrap_effects_by(counts: np.ndarray, values: np.ndarray, masks: list[np.ndarray]
                         ) -> list[np.ndarray]:
    """:func:`bootstrap_effects` for several event masks at once: one matrix product."""
    valid = ~np.isnan(values)
    filled = np.where(valid, values, 0.0)
    width = values.shape[1]
    blocks = [filled, valid.astype(float)]
    for mask in masks:
        on = mask.astype(float)[:, None]
        blocks += [filled * on, valid * on]
    sums = counts @ np.concatenate(blocks, axis=1)
    total, seen = sums[:, :width], sums[:, width:2 * width]
    out = []
    for i in range(len(masks)):
        base = 2 * width * (i + 1)
        on_sum, on_n = sums[:, base:base + width], sums[:, base + width:base + 2 * width]
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(on_sum / on_n - (total - on_sum) / (seen - on_n))
    return out


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
