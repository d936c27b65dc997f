"""The composition root: the only place that wires config, data, strategy, broker and journal.

``run_backtest`` validates everything it can *before* creating the run folder, so bad input
leaves nothing half-written behind; once the folder exists, a failure is recorded in its
manifest (status ``failed``) and re-raised.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from loguru import logger

from papertrade.config import LoadedConfig
from papertrade.data.history import MarketHistory
from papertrade.data.sources import check_symbols, load_market
from papertrade.errors import ConfigError
from papertrade.journal import Journal
from papertrade.metrics import buy_and_hold, summary
from papertrade.rebalance import FillModel
from papertrade.runfolder import (
    create_run_folder,
    finish_manifest,
    manifest,
    run_digest,
    write_config,
    write_csv,
    write_json,
)
from papertrade.strategies import Strategy, get_strategy
from papertrade.strategies.base import Decisions, scheduled_days


@dataclass(frozen=True)
class RunResult:
    """Where a run was written and its headline figures."""

    folder: Path
    metrics: dict[str, Any]


def build_strategy(loaded: LoadedConfig) -> Strategy:
    """The configured strategy, its symbols checked against the data sources."""
    run = loaded.run
    strategy = get_strategy(run.strategy.name, loaded.path).from_raw(
        run.strategy.params, loaded.path
    )
    check_symbols(strategy.symbol_keys(), run.data, loaded.path)
    quote = run.broker.quote
    for key, symbol in strategy.symbol_keys().items():
        if symbol in strategy.traded_symbols() and symbol.split("/")[-1] != quote:
            raise ConfigError(
                loaded.path, key, f"'{symbol}' is not quoted in broker.quote {quote}",
                f"trade */{quote} pairs or set broker.quote to {symbol.split('/')[-1]}",
            )
    return strategy


def load_history(
    loaded: LoadedConfig, strategy: Strategy,
    start: dt.date | None = None, end: dt.date | None = None,
) -> tuple[MarketHistory, dict[str, dict[str, object]]]:
    """Every symbol the strategy reads, aligned on the traded clock."""
    symbols = list(dict.fromkeys([*strategy.symbol_keys().values(),
                                  *strategy.benchmark_symbols()]))
    return load_market(
        symbols, strategy.traded_symbols(), loaded.run.data,
        Path(loaded.path).resolve().parent, loaded.path, start=start, end=end,
    )


def run_backtest(
    loaded: LoadedConfig,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    report: bool = True,
) -> RunResult:
    """Backtest ``loaded`` on its data through backtrader; returns the run folder."""
    run = loaded.run
    if start and end and start > end:
        raise ConfigError(loaded.path, "--start", f"{start} is after --end {end}",
                          "pass a start before the end")
    strategy = build_strategy(loaded)
    history, origins = load_history(loaded, strategy, start, end)
    decisions = strategy.decide(history)

    folder = create_run_folder(run.runs_dir, run.name, "backtest",
                               run_digest(loaded.raw, origins))
    labels = history.labels()
    meta = manifest(
        folder, name=run.name, mode="backtest", strategy=run.strategy.name,
        config_file=loaded.path, quote=run.broker.quote,
        signal=getattr(strategy.params, "signal", None),
        start=labels[0].strftime("%Y-%m-%d"), end=labels[-1].strftime("%Y-%m-%d"),
        data=origins,
    )
    write_json(folder / "manifest.json", meta)
    write_config(folder, loaded.raw)
    sink = logger.add(folder / "run.log", level="INFO", enqueue=False)
    try:
        metrics = _execute(loaded, strategy, history, decisions, folder)
    except BaseException as exc:
        finish_manifest(folder, meta, "failed", error=f"{type(exc).__name__}: {exc}")
        if report:
            _write_report(folder)
        raise
    finally:
        logger.remove(sink)
    finish_manifest(folder, meta, "finished")
    if report:
        _write_report(folder)
    return RunResult(folder, metrics)


def _execute(
    loaded: LoadedConfig, strategy: Strategy, history: MarketHistory,
    decisions: Decisions, folder: Path,
) -> dict[str, Any]:
    from papertrade.brokers.backtrader_sim import ExecutionPlan, run_backtrader

    run = loaded.run
    labels = history.labels()
    logger.info("backtest {} ({}) {}..{} on {} bars", run.name, strategy.name,
                labels[0].date(), labels[-1].date(), len(history.clock))
    journal = Journal(folder / "journal.sqlite")
    journal.set_meta({"mode": "backtest", "strategy": strategy.name, "quote": run.broker.quote,
                      "cash": run.broker.cash})
    plan = ExecutionPlan(
        decisions=decisions,
        policy=strategy.rebalance,
        scheduled=scheduled_days(history, strategy.rebalance),
        label_to_time={lbl.date(): t for lbl, t in zip(labels, history.clock, strict=True)},
        fills=FillModel.from_bps(run.broker.fee_bps, run.broker.slippage_bps),
        journal=journal,
        quote=run.broker.quote,
        last_time=history.now,
    )
    first, last = labels[0], labels[-1]
    feeds = {}
    for symbol in strategy.traded_symbols():
        native = history.native(symbol)
        window = native[(native["date"] >= first) & (native["date"] <= last)]
        if len(window):
            feeds[symbol] = window
    try:
        report = run_backtrader(feeds, plan, run.broker.cash)
        journal.commit()
        logger.info("done: final value {:.2f}", report.final_value)
        return export(folder, journal, strategy, history, run.broker.cash)
    finally:
        journal.close()


def export(
    folder: Path, journal: Journal, strategy: Strategy, history: MarketHistory | None,
    cash: float,
) -> dict[str, Any]:
    """Write the plain exports and metrics.json from the journal: one exporter for every mode."""
    equity_rows = journal.frame("SELECT date, equity, cash FROM equity ORDER BY time")
    # an exchange may charge the fee in the asset received (base on a buy): value it in quote
    fills = journal.frame(
        "SELECT time, substr(time, 1, 10) AS date, symbol, side, qty, price, "
        "qty * price AS notional, CASE WHEN fee_currency = ? OR fee_currency IS NULL "
        "THEN fee ELSE fee * price END AS fee, fee_currency, client_order_id "
        "FROM fills ORDER BY id", (strategy_quote(strategy),))
    decisions = journal.frame("SELECT date, targets, inputs, sent FROM decisions ORDER BY time")
    rejected = int(journal.rows(
        "SELECT COUNT(*) AS n FROM orders WHERE status = 'rejected'")[0]["n"])
    traded = strategy.traded_symbols()
    sent = [{"date": d, **json.loads(t)}
            for d, t, s in zip(decisions["date"], decisions["targets"], decisions["sent"],
                               strict=True) if s]
    write_csv(folder / "weights.csv", pd.DataFrame(sent, columns=["date", *traded]).fillna(0.0))
    write_csv(folder / "trades.csv", fills)
    write_csv(folder / "equity.csv", equity_rows[["date", "equity"]])

    equity = pd.Series(equity_rows["equity"].to_numpy(),
                       index=pd.DatetimeIndex(equity_rows["date"]))
    invested = 1.0 - equity_rows["cash"].to_numpy() / equity_rows["equity"].to_numpy()
    benchmarks = _benchmarks(strategy, history, cash, equity.index) if history else {}
    bench_frame = pd.DataFrame({"date": equity_rows["date"]})
    for name, curve in benchmarks.items():
        bench_frame[name] = _as_of_dates(curve, equity.index)
    write_csv(folder / "benchmarks.csv", bench_frame)
    signals = pd.DataFrame([json.loads(i) for i in decisions["inputs"]])
    signals.insert(0, "date", decisions["date"])
    write_csv(folder / "signals.csv", signals)

    metrics = summary(equity, fills, pd.Series(invested, index=equity.index), benchmarks)
    metrics["rebalances"] = len(sent)
    metrics["rejected_orders"] = rejected
    write_json(folder / "metrics.json", metrics)
    return metrics


def strategy_quote(strategy: Strategy) -> str:
    """The quote currency of the traded pairs (``BTC/USDT`` -> ``USDT``)."""
    return strategy.traded_symbols()[0].split("/")[-1]


def _benchmarks(
    strategy: Strategy, history: MarketHistory, cash: float, dates: pd.DatetimeIndex
) -> dict[str, pd.Series]:
    """Buy-and-hold of each benchmark symbol over the run's window, on its own calendar."""
    if not len(dates):
        return {}
    curves = {}
    for symbol in strategy.benchmark_symbols():
        native = history.native(symbol)
        close = pd.Series(native["close"].to_numpy(), index=pd.DatetimeIndex(native["date"]))
        close = close[(close.index >= dates[0]) & (close.index <= dates[-1])]
        if len(close) >= 2:
            curves[f"{symbol} buy&hold"] = buy_and_hold(close, cash)
    return curves


def _as_of_dates(curve: pd.Series, dates: pd.DatetimeIndex) -> pd.Series:
    return curve.reindex(curve.index.union(dates)).ffill().reindex(dates).reset_index(drop=True)


def _write_report(folder: Path) -> None:
    from papertrade.report.html import write_report

    try:
        write_report(folder)
    except Exception as exc:  # a report failure must not lose a finished backtest
        logger.warning("report.html not written: {}", exc)
        (folder / "report.error.txt").write_text(json.dumps({"error": str(exc)}))
