"""A finished sweep's summaries: the best row, ``metrics.json`` and ``overfitting.json``.

``metrics.json`` of a sweep is the best config's metrics (a walk-forward: the stitched
out-of-sample curve's), so ``runs list`` and ``runs compare`` rank a sweep like a run; it also
says how many configs the figure was chosen from.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd
from loguru import logger

from papertrade.metrics import equity_metrics
from papertrade.research.matrix import OverfitInputError
from papertrade.research.overfit import overfitting_summary
from papertrade.research.results import RESULTS, number, read_rows, returns_matrix
from papertrade.runfolder import write_json
from papertrade.runfolder.layout import OOS_EQUITY, OVERFITTING

if TYPE_CHECKING:
    from papertrade.research.sweep import Prepared

PERIODS_PER_YEAR: Final = 365


def best_row(folder: Path, objective: str) -> dict[str, str] | None:
    """The row with the best objective (lowest config number on ties)."""
    from papertrade.research.sweep import objective_better

    best: tuple[float, dict[str, str]] | None = None
    _, rows = read_rows(folder / RESULTS)
    for row in rows:
        value = number(row.get(objective, ""))
        if value is not None and (best is None or objective_better(objective, value, best[0])):
            best = (value, row)
    return best[1] if best else None


def _unflatten(row: dict[str, str], keys: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, text in row.items():
        if column in keys or column in ("fold", "config", "error"):
            continue
        value: Any = number(text)
        if value is None:
            value = text or None
        elif value.is_integer() and "." not in text and "e" not in text.lower():
            value = int(value)
        node = out
        parts = column.split(".", 2) if column.startswith("benchmarks.") else [column]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def write_summaries(folder: Path, prep: Prepared) -> dict[str, Any] | None:
    """Write metrics.json and overfitting.json; return the best config's description."""
    spec = prep.spec
    count = len(prep.points)
    if prep.folds:
        oos = pd.read_csv(folder / OOS_EQUITY)
        equity = pd.Series(oos["equity"].to_numpy(dtype=float),
                           index=pd.DatetimeIndex(oos["date"]))
        metrics: dict[str, Any] = {
            "start": str(oos["date"].iloc[0]) if len(oos) else None,
            "end": str(oos["date"].iloc[-1]) if len(oos) else None,
            "bars": len(oos), "start_equity": float(equity.iloc[0]) if len(oos) else None,
            "end_equity": float(equity.iloc[-1]) if len(oos) else None,
            **equity_metrics(equity, PERIODS_PER_YEAR),
            "configs": count, "folds": len(prep.folds), "out_of_sample": True,
        }
        write_json(folder / "metrics.json", metrics)
        return {"objective": spec.objective, "out_of_sample": metrics.get(spec.objective)}
    row = best_row(folder, spec.objective)
    metrics = _unflatten(row, prep.keys) if row else {}
    metrics.update({"configs": count, "best_config": int(row["config"]) if row else None})
    write_json(folder / "metrics.json", metrics)
    write_overfitting(folder, prep)
    if row is None:
        return None
    return {"config": int(row["config"]), "objective": spec.objective,
            "value": number(row.get(spec.objective, "")),
            "sets": [f"{k}={row[k]}" for k in prep.keys]}


def write_overfitting(folder: Path, prep: Prepared) -> None:
    """The configs' returns matrix (``returns.npy``) and, from it, ``overfitting.json``."""
    found = returns_matrix(folder)
    if found is None:
        return
    dates, configs, matrix = found
    returns = pd.DataFrame(matrix, index=pd.DatetimeIndex(dates), columns=configs.tolist())
    benchmark = None
    if prep.benchmark is not None:
        closes = prep.benchmark.reindex(prep.benchmark.index.union(returns.index)).ffill()
        benchmark = closes.pct_change().reindex(returns.index).fillna(0.0)
    payload: dict[str, Any] = {"configs": len(configs), "periods": len(dates),
                               "periods_per_year": PERIODS_PER_YEAR,
                               "benchmark": getattr(prep.benchmark, "name", None)}
    try:
        payload.update(overfitting_summary(returns.fillna(0.0), benchmark, PERIODS_PER_YEAR))
    except OverfitInputError as exc:  # one config, or too few periods to split
        payload["not_computed"] = str(exc)
    logger.info("overfitting statistics over {} configs x {} periods", len(configs), len(dates))
    write_json(folder / OVERFITTING, payload)
