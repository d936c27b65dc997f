"""Overfitting statistics of a sweep: deflated Sharpe ratio, PBO by CSCV, Hansen's SPA test.

Every function takes ``returns``: a DataFrame of per-period returns, one column per config, all
on one clock (rows = bars). Sharpe ratios are per period (mean / sample standard deviation,
risk-free rate zero) unless a key says ``_annual`` (times ``sqrt(periods_per_year)``).

Input policy (NaN rows, flat configs, duplicate labels): :mod:`papertrade.research.matrix`; a
violation raises :class:`OverfitInputError`, a ``ValueError`` with a one-line message naming the
problem and the fix (exit code 2 if it reaches the CLI).

References: Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", J. Portfolio Management
40(5); Bailey, Borwein, López de Prado & Zhu (2017), "The Probability of Backtest Overfitting",
J. Computational Finance 20(4); Hansen (2005), "A Test for Superior Predictive Ability", JBES
23(4); Galwey (2009), "A new measure of the effective number of tests", Genetic
Epidemiology 33(7).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from papertrade.research.cscv import pbo_cscv
from papertrade.research.matrix import (
    FLAT_STD,
    OverfitInputError,
    label,
    sharpe_ratios,
    validated_matrix,
)
from papertrade.research.spa import spa_vs_benchmark

__all__ = ["OverfitInputError", "deflated_sharpe", "effective_trials", "expected_max_sharpe",
           "overfitting_summary", "pbo_cscv", "probabilistic_sharpe", "spa_vs_benchmark",
           "verdict"]

SIGNIFICANT = 0.95  # DSR / PSR level called significant
EXACT_TRIALS = 1000  # configs up to which effective_trials uses every config's correlations


def expected_max_sharpe(n_trials: float, sharpe_variance: float) -> float:
    """SR0: the expected maximum of ``n_trials`` independent Sharpe estimates under the null.

    ``sqrt(V) * ((1 - gamma) * Phi^-1(1 - 1/N) + gamma * Phi^-1(1 - 1/(N e)))`` (Bailey & López
    de Prado 2014, eq. 2 with a zero mean); one trial (or fewer) gives 0: nothing was selected.
    """
    if n_trials <= 1 or sharpe_variance <= 0:
        return 0.0
    gamma = np.euler_gamma
    z = ((1 - gamma) * stats.norm.ppf(1 - 1 / n_trials)
         + gamma * stats.norm.ppf(1 - 1 / (n_trials * math.e)))
    return float(math.sqrt(sharpe_variance) * z)


def probabilistic_sharpe(sharpe: float, benchmark: float, t: int, skew: float,
                         kurtosis: float) -> float:
    """PSR: the probability that the true per-period Sharpe exceeds ``benchmark``.

    ``Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2))`` with ``kurtosis`` the
    non-excess kurtosis (3 for a normal). ``DSR = PSR(SR0)``.
    """
    spread = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    # Pearson's inequality (g4 >= 1 + g3^2) keeps `spread` >= 0; guard the degenerate case
    z = (sharpe - benchmark) * math.sqrt(t - 1) / math.sqrt(max(spread, 1e-12))
    return float(stats.norm.cdf(z))


def effective_trials(values: np.ndarray) -> float:
    """Effective number of independent trials of a T x N returns array (Galwey 2009).

    ``(sum sqrt(lambda_i))^2 / sum lambda_i`` over the eigenvalues of the configs' correlation
    matrix: N for uncorrelated configs, k for k groups of identical ones, smooth in between
    (near-duplicates count a little more than one). Flat configs (no correlation defined)
    count together as one trial. Above ``EXACT_TRIALS`` configs the eigenvalues would cost
    minutes: the measure is taken on ``EXACT_TRIALS`` configs evenly spread over the Sharpe
    ranking and scaled by N / EXACT_TRIALS, which overstates it for a clustered grid (so
    ``dsr_effective`` errs on the cautious side) and is exact for independent configs.
    """
    stds = values.std(axis=0, ddof=1)
    live = np.flatnonzero(stds >= FLAT_STD)
    flat = 1.0 if len(live) < values.shape[1] else 0.0
    scale = 1.0
    if len(live) > EXACT_TRIALS:
        ranked = live[np.argsort(sharpe_ratios(values[:, live]), kind="stable")]
        live = ranked[np.linspace(0, len(ranked) - 1, EXACT_TRIALS).round().astype(int)]
        scale = len(ranked) / EXACT_TRIALS
    z = values[:, live]
    z = (z - z.mean(axis=0)) / stds[live] / math.sqrt(z.shape[0] - 1)
    # the non-zero eigenvalues of Z'Z (N x N) and ZZ' (T x T) coincide: use the smaller one
    gram = z.T @ z if z.shape[1] <= z.shape[0] else z @ z.T
    eig = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    n_eff = float(np.sqrt(eig).sum() ** 2 / eig.sum()) * scale
    return min(n_eff + flat, float(values.shape[1]))


def deflated_sharpe(returns: pd.DataFrame, periods_per_year: float) -> dict[str, Any]:
    """Deflated Sharpe ratio of the best config (by per-period Sharpe) among all columns.

    SR0 is the expected maximum Sharpe of ``n_trials`` (all columns) null strategies whose
    Sharpes vary as the observed ones do; ``dsr`` = PSR(SR0) with the best's skew and (non-excess)
    kurtosis. A grid of correlated configs is fewer independent trials than columns:
    ``dsr_effective`` deflates with ``n_effective`` (:func:`effective_trials`) instead. ``dsr`` is
    the conservative figure. One column is allowed: SR0 = 0 and DSR = PSR vs 0.
    """
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise OverfitInputError(f"deflated Sharpe: periods_per_year must be > 0, got "
                                f"{periods_per_year} (365 for a crypto daily clock)")
    frame = validated_matrix(returns, min_columns=1, min_rows=4, what="deflated Sharpe")
    values = frame.to_numpy()
    t, n = values.shape
    sharpes = sharpe_ratios(values)
    best = int(np.argmax(sharpes))
    sharpe = float(sharpes[best])
    variance = float(np.var(sharpes, ddof=1)) if n > 1 else 0.0
    column = values[:, best]
    if column.std(ddof=1) >= FLAT_STD:
        skew = float(stats.skew(column))
        kurt = float(stats.kurtosis(column, fisher=False))
    else:
        skew, kurt = 0.0, 3.0
    n_eff = effective_trials(values) if n > 1 else 1.0
    sr0 = expected_max_sharpe(n, variance)
    sr0_eff = expected_max_sharpe(n_eff, variance)
    root = math.sqrt(periods_per_year)
    return {
        "best": label(frame.columns[best]),
        "sharpe": sharpe,
        "sharpe_annual": sharpe * root,
        "sr0": sr0,
        "sr0_annual": sr0 * root,
        "n_trials": n,
        "n_effective": n_eff,
        "sharpe_variance": variance,
        "dsr": probabilistic_sharpe(sharpe, sr0, t, skew, kurt),
        "sr0_effective": sr0_eff,
        "dsr_effective": probabilistic_sharpe(sharpe, sr0_eff, t, skew, kurt),
        "psr0": probabilistic_sharpe(sharpe, 0.0, t, skew, kurt),
        "skew": skew,
        "kurtosis": kurt,
        "t": t,
        "periods_per_year": periods_per_year,
    }


def overfitting_summary(returns: pd.DataFrame, benchmark: pd.Series | None,
                        periods_per_year: float, *, n_blocks: int = 16, reps: int = 1000,
                        seed: int = 0) -> dict[str, Any]:
    """The deflated Sharpe, the PBO and the SPA test of one sweep, and a plain-words verdict.

    ``{"deflated_sharpe": ..., "pbo": ..., "spa": ..., "verdict": str}``; see each function.
    Without a ``benchmark`` the SPA test is skipped (``"spa": None``). Needs at least two
    configs (PBO ranks configs against each other); a bad matrix raises OverfitInputError.
    """
    dsr = deflated_sharpe(returns, periods_per_year)
    pbo = pbo_cscv(returns, n_blocks)
    spa = None if benchmark is None else spa_vs_benchmark(returns, benchmark, reps=reps,
                                                          seed=seed)
    return {"deflated_sharpe": dsr, "pbo": pbo, "spa": spa, "verdict": verdict(dsr, pbo, spa)}


def verdict(dsr: dict[str, Any], pbo: dict[str, Any], spa: dict[str, Any] | None) -> str:
    """One paragraph a user can act on, from the three statistics' dictionaries."""
    n, n_eff = dsr["n_trials"], dsr["n_effective"]
    head = (f"best of {n} configs ({dsr['best']}): Sharpe {dsr['sharpe_annual']:.2f} a year, "
            f"DSR {dsr['dsr']:.2f}")
    if n_eff < n - 0.5:
        head += f" ({dsr['dsr_effective']:.2f} counting {n_eff:.0f} independent trials)"
    if dsr["dsr"] >= SIGNIFICANT:
        head += f" — significant even after {n} trials"
    elif dsr["dsr_effective"] >= SIGNIFICANT:
        head += (f" — significant only if the {n} configs are {n_eff:.0f} independent trials, "
                 f"not after {n}")
    else:
        head += f" — not significant after {n} trials"
    share = pbo["pbo"]
    if share >= 0.5:
        fit = "the in-sample winner is usually below median out of sample"
    elif share >= 0.2:
        fit = f"the in-sample winner falls below median out of sample in {share:.0%} of splits"
    else:
        fit = "the in-sample winner usually stays above median out of sample"
    loss = f"it loses money out of sample in {pbo['prob_oos_loss']:.0%} of splits"
    text = f"{head}; PBO {share:.2f}: {fit}, {loss}"
    if spa is None:
        return f"{text}; no benchmark, so no SPA test."
    p = spa["pvalue_consistent"]
    beats = ("some config beats the benchmark after correcting for data snooping" if p < 0.05
             else "no config reliably beats the benchmark once data snooping is accounted for")
    return f"{text}; SPA p = {p:.2f}: {beats}."
