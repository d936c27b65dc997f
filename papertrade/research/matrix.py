"""The returns matrix every overfitting statistic reads, validated once, and Sharpe ratios.

Rows are periods on one clock, columns are configs. Rows where *every* config is NaN are dropped
(the first row of ``pct_change()``); any other NaN or infinite value is an error (filling it would
invent returns). A column whose standard deviation is below ``FLAT_STD`` per period is *flat* (a
config that never trades): its Sharpe is 0 and it still counts as a trial; a matrix of flat
columns only is an error. Duplicate column labels are an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from papertrade.errors import PapertradeError

FLAT_STD = 1e-12


class OverfitInputError(PapertradeError, ValueError):
    """The returns matrix (or benchmark) cannot be tested as given; the message says why."""


def label(value: Any) -> Any:
    """A column label as a JSON-able value."""
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, str | int | float) else str(value)


def validated_matrix(returns: pd.DataFrame, *, min_columns: int, min_rows: int,
                     what: str) -> pd.DataFrame:
    """The validated float matrix (all-NaN rows dropped), or a one-line OverfitInputError."""
    if not isinstance(returns, pd.DataFrame):
        raise OverfitInputError(f"{what}: returns must be a DataFrame (rows = periods, "
                                f"columns = configs), got {type(returns).__name__}")
    if returns.columns.has_duplicates:
        dupes = sorted({str(c) for c in returns.columns[returns.columns.duplicated()]})[:3]
        raise OverfitInputError(f"{what}: duplicate config columns {dupes}; give each config "
                                "a unique label")
    if returns.shape[1] < min_columns:
        raise OverfitInputError(f"{what}: needs at least {min_columns} configs, got "
                                f"{returns.shape[1]}; sweep more than one config")
    try:
        frame = returns.astype("float64")
    except (TypeError, ValueError) as exc:
        raise OverfitInputError(f"{what}: returns must be numeric ({exc})") from None
    frame = frame.loc[~frame.isna().all(axis=1)]
    values = frame.to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        columns = [str(c) for c in frame.columns[bad.any(axis=0)]]
        raise OverfitInputError(
            f"{what}: {int(bad.sum())} NaN or infinite returns in {len(columns)} configs "
            f"(first: {columns[:3]}); align every config on one clock and write 0 for flat bars")
    if len(frame) < min_rows:
        raise OverfitInputError(f"{what}: needs at least {min_rows} periods, got {len(frame)}; "
                                "use a longer history")
    if not (values.std(axis=0, ddof=1) >= FLAT_STD).any():
        raise OverfitInputError(f"{what}: every config is flat (no returns at all); "
                                "nothing to test")
    return frame


def sharpe_from_sums(total: np.ndarray, squares: np.ndarray, n: int) -> np.ndarray:
    """Per-period Sharpe from sums and sums of squares of ``n`` returns; 0 where flat.

    In place on temporaries only: CSCV calls it on every split x config cell.
    """
    std = total * total
    std /= -n
    std += squares
    np.maximum(std, 0.0, out=std)
    std /= n - 1
    np.sqrt(std, out=std)
    std[std < FLAT_STD] = np.inf  # a flat column's Sharpe is 0
    sharpe: np.ndarray = total / n
    sharpe /= std
    return sharpe


def sharpe_ratios(values: np.ndarray) -> np.ndarray:
    """Per-period Sharpe of each column of a T x N array (ddof 1; 0 for a flat column)."""
    return sharpe_from_sums(values.sum(axis=0), (values**2).sum(axis=0), values.shape[0])


