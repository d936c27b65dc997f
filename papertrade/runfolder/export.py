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
from papertrade.metrics import DUST_NOTIONAL, buy_and_hold, summary, time_weighted_equity
from papertrade.runfolder.write import write_csv, write_json


def export(
    folder: Path, journal: Journal, *, traded: list[str], quote: str,
    benchmarks: Mapping[str, pd.Series], cash: float, dust_notional: float = DUST_NOTIONAL,
) -> dict[str, Any]:
    """Write the plain exports and metrics.json from the journal: one exporter for every mode.

    ``benchmarks`` maps a symbol to its closes (index: bar date); each gets a buy-and-hold of
    ``cash`` over the run's window in ``benchmarks.csv`` and ``metrics.json``. A position worth
    at most ``dust_notional`` is flat for the round trips (the live loop's
    ``live.dust_notional``).
    """
    equity_rows = journal.frame("SELECT date, equity, cash FROM equity ORDER BY time")
    # an exchange may charge the fee in the asset received (base on a buy): value it in quote
    fills = journal.frame(
        "SELECT time, substr(time, 1, 10) AS date, symbol, side, qty, price, "
        "qty * price AS notional, CASE WHEN fee_currency = ? OR fee_currency IS NULL "
        "THEN fee ELSE fee * price END AS fee, fee_currency, client_order_id, market_price, "
        "(price / market_price - 1) * 10000 AS market_gap_bps "
        "FROM fills ORDER BY id", (quote,))
    if fills["market_price"].isna().all():  # signals and fills on the same market
        fills = fills.drop(columns=["market_price", "market_gap_bps"])
    decisions = journal.frame("SELECT date, targets, inputs, sent FROM decisions ORDER BY time")
    rejected = int(journal.rows(
        "SELECT COUNT(*) AS n FROM orders WHERE status = 'rejected'")[0]["n"])
    sent = [{"date": d, **json.loads(t)}
            for d, t, s in zip(decisions["date"], decisions["targets"], decisions["sent"],
                               strict=True) if s]
    write_csv(folder / "weights.csv", pd.DataFrame(sent, columns=["date", *traded]).fillna(0.0))
    write_csv(folder / "trades.csv", fills)
    account = equity_rows["equity"].to_numpy()
    dates = pd.DatetimeIndex(equity_rows["date"])
    flows = journal.capital_flows()
    flows.index = pd.DatetimeIndex(flows.index)
    # capital that came or went without a trade (a testnet reset): returns continue across it
    equity = time_weighted_equity(pd.Series(account, index=dates), flows).to_numpy()
    cash_rows = equity_rows["cash"].to_numpy()
    equity_csv = pd.DataFrame({"date": equity_rows["date"], "equity": equity})
    if not flows.empty:
        equity_csv["account_equity"] = account
        equity_csv["capital_flow"] = flows.groupby(level=0).sum().reindex(
            dates, fill_value=0.0).to_numpy()
        cash_rows = cash_rows * equity / account  # the same invested share on the curve
    write_csv(folder / "equity.csv", equity_csv)
    curves = buy_and_hold_curves(benchmarks, cash, dates)
    bench_frame = pd.DataFrame({"date": equity_rows["date"]})
    for name, curve in curves.items():
        bench_frame[name] = _as_of_dates(curve, dates)
    write_csv(folder / "benchmarks.csv", bench_frame)
    signals = pd.DataFrame([json.loads(i) for i in decisions["inputs"]])
    signals.insert(0, "date", decisions["date"])
    write_csv(folder / "signals.csv", signals)

    metrics = run_metrics(equity, cash_rows, dates, fills, curves, rebalances=len(sent),
                          rejected=rejected, rails=_rails(journal), dust_notional=dust_notional)
    metrics.update(_capital_and_market(journal, fills, account))
    write_json(folder / "metrics.json", metrics)
    return metrics


def run_metrics(
    equity: np.ndarray, cash: np.ndarray, dates: pd.DatetimeIndex, fills: pd.DataFrame,
    curves: dict[str, pd.Series], *, rebalances: int, rejected: int, rails: dict[str, Any],
    benchmark_stats: dict[str, dict[str, Any]] | None = None,
    dust_notional: float = DUST_NOTIONAL,
) -> dict[str, Any]:
    """``metrics.json`` of a run: its marked equity and cash per bar (``dates``), its fills
    (``trades.csv``'s columns), its benchmarks' buy-and-hold curves, how many decisions were
    sent, orders rejected, and what the rails did (``rail_cuts``, ``kill_switch``)."""
    curve = pd.Series(equity, index=dates)
    invested = pd.Series(1.0 - cash / equity, index=dates)
    metrics = summary(curve, fills, invested, curves, benchmark_stats=benchmark_stats,
                      dust_notional=dust_notional)
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


def _capital_and_market(journal: Journal, fills: pd.DataFrame, account: np.ndarray
                        ) -> dict[str, Any]:
    """Capital events (testnet resets, transfers) and, where signals came from the real market
    while orders went to a sandbox, the fills' gap to the real price (notional-weighted, bps;
    positive: the sandbox filled higher)."""
    out: dict[str, Any] = {}
    events = journal.rows("SELECT time, kind, flow, equity_before, equity_after "
                          "FROM capital_events ORDER BY id")
    if events:
        out["capital_events"] = len(events)
        out["resets"] = sum(e["kind"] == "reset" for e in events)
        out["capital_flow"] = float(sum(e["flow"] for e in events))
        out["end_account_equity"] = float(account[-1]) if len(account) else None
    if "market_gap_bps" in fills and fills["market_gap_bps"].notna().any():
        priced = fills[fills["market_gap_bps"].notna()]
        weights = priced["notional"] / priced["notional"].sum()
        out["market_gap_bps"] = float((priced["market_gap_bps"] * weights).sum())
        out["market_gap_abs_bps"] = float((priced["market_gap_bps"].abs() * weights).sum())
        out["market_priced_fills"] = len(priced)
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
