"""Probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, López de Prado & Zhu (2017), "The Probability of Backtest Overfitting",
J. Computational Finance 20(4). Vectorised: per-block sums and sums of squares once, then every
split's in- and out-of-sample Sharpes as array sums (no loop over configs).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from papertrade.research.matrix import OverfitInputError, sharpe_from_sums, validated_matrix

_CELLS_PER_CHUNK = 250_000  # splits x configs handled at once: bounds memory for large sweeps


def cscv_splits(n_blocks: int) -> np.ndarray:
    """Every choice of ``n_blocks / 2`` in-sample blocks, C(S, S/2) rows of block indices."""
    return np.array(list(itertools.combinations(range(n_blocks), n_blocks // 2)), dtype=np.intp)


def pbo_cscv(returns: pd.DataFrame, n_blocks: int = 16) -> dict[str, Any]:
    """Probability of backtest overfitting by combinatorially symmetric cross-validation.

    The rows are cut into ``n_blocks`` contiguous blocks of equal length (the oldest
    ``T mod n_blocks`` rows are dropped). For every choice of half the blocks as in-sample, the
    config with the best in-sample Sharpe is ranked out of sample among all configs (average
    rank on ties, 1 = worst); ``w = rank / (N + 1)``, ``logit = ln(w / (1 - w))``. PBO is the
    share of splits with ``logit <= 0`` (the winner at or below the out-of-sample median). Also:
    the slope of the winner's out-of-sample on in-sample Sharpe across splits (performance
    degradation) and the share of splits where the winner loses out of sample. Configs tied
    for the in-sample best share the split (their ``w`` is averaged), so the result does not
    depend on column order.
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int | np.integer) \
            or n_blocks < 2 or n_blocks % 2:
        raise OverfitInputError(f"PBO: n_blocks must be an even integer >= 2, got {n_blocks!r} "
                                "(16 is usual)")
    frame = validated_matrix(returns, min_columns=2, min_rows=2 * n_blocks, what="PBO")
    values = frame.to_numpy()
    t, n = values.shape
    length = t // n_blocks
    blocks = values[t - length * n_blocks:].reshape(n_blocks, length, n)
    # every half of the blocks is one subset of the first S/2 blocks plus one of the last S/2:
    # subset sums of each side once (2 x 2^(S/2) rows), then a split's sum is one addition
    side = n_blocks // 2
    sums, squares = blocks.sum(axis=1), (blocks**2).sum(axis=1)  # S x N
    first = _subset_sums(sums[:side]), _subset_sums(squares[:side])
    last = _subset_sums(sums[side:]), _subset_sums(squares[side:])
    splits = cscv_splits(n_blocks)
    chosen = np.zeros((len(splits), n_blocks), dtype=np.int64)
    np.put_along_axis(chosen, splits, 1, axis=1)
    bits = 1 << np.arange(side)
    mask_first, mask_last = chosen[:, :side] @ bits, chosen[:, side:] @ bits
    full = (1 << side) - 1
    half = length * side
    logits = np.empty(len(splits))
    is_best = np.empty(len(splits))
    oos_best = np.empty(len(splits))
    step = max(1, _CELLS_PER_CHUNK // n)
    for start in range(0, len(splits), step):
        a, b = mask_first[start:start + step], mask_last[start:start + step]
        # the same additions for every column, so identical configs get bit-identical Sharpes
        sharpe_is = sharpe_from_sums(first[0][a] + last[0][b], first[1][a] + last[1][b], half)
        a, b = full ^ a, full ^ b
        sharpe_oos = sharpe_from_sums(first[0][a] + last[0][b], first[1][a] + last[1][b], half)
        w, is_b, oos_b = _winner_ranks(sharpe_is, sharpe_oos)
        chunk = slice(start, start + step)
        logits[chunk] = np.log(w / (1.0 - w))
        is_best[chunk], oos_best[chunk] = is_b, oos_b
    slope = intercept = None
    if np.ptp(is_best) > 0:
        fit = stats.linregress(is_best, oos_best)
        slope, intercept = float(fit.slope), float(fit.intercept)
    counts, edges = np.histogram(logits, bins=20)
    return {
        "pbo": float(np.mean(logits <= 0.0)),
        "n_combinations": len(splits),
        "n_blocks": n_blocks,
        "block_length": length,
        "t_used": length * n_blocks,
        "n_configs": n,
        "logits": logits.tolist(),
        "logit_histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        "degradation_slope": slope,
        "degradation_intercept": intercept,
        "prob_oos_loss": float(np.mean(oos_best < 0.0)),
        "is_sharpe_mean": float(is_best.mean()),
        "oos_sharpe_mean": float(oos_best.mean()),
    }


def _subset_sums(parts: np.ndarray) -> np.ndarray:
    """2^k x N sums of every subset of the k rows of ``parts``: row ``m`` sums the rows whose
    bits are set in ``m``."""
    out = np.zeros((1 << len(parts), parts.shape[1]))
    for bit, row in enumerate(parts):
        size = 1 << bit
        out[size:2 * size] = out[:size] + row
    return out


def _rank_share(oos: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Average 1-based rank of ``value`` (per row) within each row of ``oos``, over N + 1."""
    below = np.count_nonzero(oos < value[:, None], axis=1)
    equal = np.count_nonzero(oos == value[:, None], axis=1)
    share: np.ndarray = (below + (equal + 1) / 2.0) / (oos.shape[1] + 1)
    return share


def _winner_ranks(sharpe_is: np.ndarray, sharpe_oos: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per split: the winner's relative OOS rank, its IS Sharpe and its OOS Sharpe."""
    rows = np.arange(len(sharpe_is))
    winner = np.argmax(sharpe_is, axis=1)
    top = sharpe_is[rows, winner]
    oos = sharpe_oos[rows, winner]
    w = _rank_share(sharpe_oos, oos)
    # configs tied for the in-sample best: usually identical configs, equal out of sample too;
    # otherwise the split's rank is their average
    for row in np.flatnonzero(np.count_nonzero(sharpe_is == top[:, None], axis=1) > 1):
        values = sharpe_oos[row, sharpe_is[row] == top[row]]
        if values.min() != values.max():
            others = np.broadcast_to(sharpe_oos[row], (len(values), sharpe_oos.shape[1]))
            w[row] = _rank_share(others, values).mean()
            oos[row] = values.mean()
    return w, top, oos
