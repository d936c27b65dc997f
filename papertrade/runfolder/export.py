"""The plain exports of a run folder, written from its journal: one exporter for every mode.

``weights.csv``, ``trades.csv``, ``equity.csv``, ``benchmarks.csv``, ``signals.csv`` and
``metrics.json`` (docs/run-folder.md). Imported on demand: it needs pandas, ``runs list`` not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from papertrade.journal import Journal
from papertrade.metrics import buy_and_hold, summary
from papertrade.runfolder.write import write_csv, write_json


def export(
    folder: Path, journal: Journal, *, traded: list[str], quote: str,
    benchmarks: Mapping[str, pd.Series], cash: float,
) -> dict[str, Any]:
    """Write the plain exports and metrics.json from the journal: one exporter for every mode.

    ``benchmarks`` maps a symbol to its closes (index: bar date); each gets a buy-and-hold of
    ``cash`` over the run's window in ``benchmarks.csv`` and ``metrics.json``.
    """
    equity_rows = journal.frame("SELECT date, equity, cash FROM equity ORDER BY time")
    # an exchange may charge the fee in the asset received (base on a buy): value it in quote
    fills = journal.frame(
        "SELECT time, substr(time, 1, 10) AS date, symbol, side, qty, price, "
        "qty * price AS notional, CASE WHEN fee_currency = ? OR fee_currency IS NULL "
        "THEN fee ELSE fee * price END AS fee, fee_currency, client_order_id "
        "FROM fills ORDER BY id", (quote,))
    decisions = journal.frame("SELECT date, targets, inputs, sent FROM decisions ORDER BY time")
    rejected = int(journal.rows(
        "SELECT COUNT(*) AS n FROM orders WHERE status = 'rejected'")[0]["n"])
    sent = [{"date": d, **json.loads(t)}
            for d, t, s in zip(decisions["date"], decisions["targets"], decisions["sent"],
                               strict=True) if s]
    write_csv(folder / "weights.csv", pd.DataFrame(sent, columns=["date", *traded]).fillna(0.0))
    write_csv(folder / "trades.csv", fills)
    write_csv(folder / "equity.csv", equity_rows[["date", "equity"]])

    dates = pd.DatetimeIndex(equity_rows["date"])
    curves = buy_and_hold_curves(benchmarks, cash, dates)
    bench_frame = pd.DataFrame({"date": equity_rows["date"]})
    for name, curve in curves.items():
        bench_frame[name] = _as_of_dates(curve, dates)
    write_csv(folder / "benchmarks.csv", bench_frame)
    signals = pd.DataFrame([json.loads(i) for i in decisions["inputs"]])
    signals.insert(0, "date", decisions["date"])
    write_csv(folder / "signals.csv", signals)

    metrics = run_metrics(equity_rows["equity"].to_numpy(), equity_rows["cash"].to_numpy(),
                          dates, fills, curves, rebalances=len(sent), rejected=rejected,
                          rails=_rails(journal))
    write_json(folder / "metrics.json", metrics)
    return metrics


def run_metrics(
    equity: np.ndarray, cash: np.ndarray, dates: pd.DatetimeIndex, fills: pd.DataFrame,
    curves: dict[str, pd.Series], *, rebalances: int, rejected: int, rails: dict[str, Any],
    benchmark_stats: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``metrics.json`` of a run: its marked equity and cash per bar (``dates``), its fills
    (``trades.csv``'s columns), its benchmarks' buy-and-hold curves, how many decisions were
    sent, orders rejected, and what the rails did (``rail_cuts``, ``kill_switch``)."""
    curve = pd.Series(equity, index=dates)
    invested = pd.Series(1.0 - cash / equity, index=dates)
    metrics = summary(curve, fills, invested, curves, benchmark_stats=benchmark_stats)
    metrics["rebalances"] = rebalances
    metrics["rejected_orders"] = rejected
    metrics.update(rails)
    return metrics


def _rails(journal: Journal) -> dict[str, Any]:
    """What the risk rails did: the kill switch's message, and how many orders rails cut."""
    fired = journal.rows("SELECT message FROM events WHERE kind = 'kill_switch' ORDER BY id "
                         "LIMIT 1")
    cuts = journal.rows("SELECT COUNT(*) AS n FROM events WHERE kind = 'rail'")[0]["n"]
    return rails_metrics(int(cuts), str(fired[0]["message"]) if fired else "")


def rails_metrics(cuts: int, kill_switch: str) -> dict[str, Any]:
    """``metrics.json``'s rail keys: orders the rails cut, and the kill switch's message."""
    out: dict[str, Any] = {"rail_cuts": cuts}
    if kill_switch:
        out["kill_switch"] = kill_switch
    return out


def buy_and_hold_curves(closes: Mapping[str, pd.Series], cash: float, dates: pd.DatetimeIndex
                  ) -> dict[str, pd.Series]:
    """Buy-and-hold of each benchmark over the run's window, on its own calendar."""
    if not len(dates):
        return {}
    curves = {}
    for symbol, close in closes.items():
        close = close[(close.index >= dates[0]) & (close.index <= dates[-1])]
        if len(close) >= 2:
            curves[f"{symbol} buy&hold"] = buy_and_hold(close, cash)
    return curves


def _as_of_dates(curve: pd.Series, dates: pd.DatetimeIndex) -> pd.Series:
    return curve.reindex(curve.index.union(dates)).ffill().reindex(dates).reset_index(drop=True)
