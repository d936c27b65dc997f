"""The walk-forward's out-of-sample leg: choose per fold, trade the next window, stitch.

Writes ``folds.csv`` (fold, windows, chosen config and its ``--set`` overrides, the capital
in and out, in-sample and out-of-sample metrics) and ``oos_equity.csv`` (date, equity, fold).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import pandas as pd
from loguru import logger

from papertrade.errors import PapertradeError
from papertrade.research.execute import run_one
from papertrade.research.results import RESULTS, flatten, number, read_rows
from papertrade.runfolder import write_csv
from papertrade.runfolder.layout import FOLDS, OOS_EQUITY
from papertrade.util.text import one_line

if TYPE_CHECKING:
    from pathlib import Path

    from papertrade.research.sweep import Prepared

#: metrics shown in-sample and out-of-sample per fold (plus the objective)
FOLD_METRICS: Final = ("total_return", "cagr", "sharpe", "max_drawdown", "trades")


def best_per_fold(folder: Path, objective: str) -> dict[int, dict[str, str]]:
    """The train row with the best objective of each fold (lowest config number on ties)."""
    from papertrade.research.sweep import objective_better

    best: dict[int, tuple[float, dict[str, str]]] = {}
    _, rows = read_rows(folder / RESULTS)
    for row in rows:
        value = number(row.get(objective, ""))
        if value is None:
            continue
        fold = int(row["fold"])
        held = best.get(fold)
        if held is None or objective_better(objective, value, held[0]):
            best[fold] = (value, row)
    return {fold: row for fold, (_, row) in best.items()}


def run_walk_forward(client: Any, name: str, folder: Path, prep: Prepared) -> None:
    """Trade each fold's chosen config on its test window with the capital carried over."""
    objective = prep.spec.objective
    chosen = best_per_fold(folder, objective)
    by_index = {p.index: p for p in prep.points}
    capital = float(prep.loaded.run.broker.cash)
    metrics = list(dict.fromkeys([*FOLD_METRICS, objective]))
    fold_rows: list[dict[str, Any]] = []
    pieces: list[pd.DataFrame] = []
    for fold in prep.folds:
        row: dict[str, Any] = {"fold": fold.fold, "train_start": fold.train_start,
                               "train_end": fold.train_end, "test_start": fold.test_start,
                               "test_end": fold.test_end, "config": None, "sets": "",
                               "start_equity": capital, "end_equity": capital}
        train = chosen.get(fold.fold)
        if train is None:
            row["error"] = "no config had a defined objective on the train window"
            fold_rows.append(row)
            continue
        point = by_index[int(train["config"])]
        row["config"] = point.index
        row["sets"] = " ".join(point.sets(prep.keys))
        overrides = {**point.as_dict(prep.keys), "broker.cash": capital}
        try:
            result = client.submit(run_one, name, (fold.test_start, fold.test_end), overrides,
                                   pure=False).result()
        except PapertradeError as exc:
            row["error"] = one_line(str(exc), 300)
            fold_rows.append(row)
            continue
        oos = flatten(result.metrics)
        for key in metrics:
            row[f"is_{key}"] = number(train.get(key, ""))
            row[f"oos_{key}"] = oos.get(key)
        equity = result.equity
        if len(equity):
            capital = float(equity.iloc[-1])
            pieces.append(pd.DataFrame({"date": [str(d)[:10] for d in equity.index],
                                        "equity": equity.to_numpy(), "fold": fold.fold}))
        row["end_equity"] = capital
        logger.info("fold {}: config {} ({}) on {}..{}: {:.2f} -> {:.2f}", fold.fold,
                    point.index, row["sets"], fold.test_start, fold.test_end,
                    row["start_equity"], capital)
        fold_rows.append(row)
    write_csv(folder / FOLDS, pd.DataFrame(fold_rows))
    stitched = (pd.concat(pieces, ignore_index=True) if pieces
                else pd.DataFrame(columns=["date", "equity", "fold"]))
    write_csv(folder / OOS_EQUITY, stitched)
