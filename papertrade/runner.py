"""The composition root: the only place that wires config, data, strategy, broker and journal.

``run_backtest`` validates everything it can *before* creating the run folder, so bad input
leaves nothing half-written behind; once the folder exists, a failure is recorded in its
manifest (status ``failed``) and re-raised.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from papertrade.assembly import build_strategy, load_history
from papertrade.config import LoadedConfig
from papertrade.data.history import MarketHistory
from papertrade.errors import ConfigError
from papertrade.journal import Journal
from papertrade.runfolder import (
    create_run_folder,
    finish_manifest,
    manifest,
    run_digest,
    run_tag,
    write_config,
    write_json,
)
from papertrade.runfolder.export import export
from papertrade.strategies import Strategy
from papertrade.strategies.base import Decisions, checked_decide, scheduled_days
from papertrade.trader import AnyAmountVenue, Trader
from papertrade.util.secrets import masking_filter, secret_values

__all__ = ["RunResult", "build_strategy", "load_history", "run_backtest"]


@dataclass(frozen=True)
class RunResult:
    """Where a run was written and its headline figures."""

    folder: Path
    metrics: dict[str, Any]


def run_backtest(
    loaded: LoadedConfig,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    report: bool = True,
    strategy_paths: Sequence[Path] = (),
) -> RunResult:
    """Backtest ``loaded`` on its data through backtrader; returns the run folder."""
    run = loaded.run
    if start and end and start > end:
        raise ConfigError(loaded.path, "--start", f"{start} is after --end {end}",
                          "pass a start before the end")
    strategy = build_strategy(loaded, strategy_paths)
    history, origins = load_history(loaded, strategy, start, end)
    decisions = checked_decide(strategy, history)

    folder = create_run_folder(run.runs_dir, run.name, "backtest",
                               run_digest(loaded.raw, origins))
    labels = history.labels()
    secrets = secret_values(loaded.raw)
    meta = manifest(
        folder, name=run.name, mode="backtest", strategy=run.strategy.name,
        config_file=loaded.path, quote=run.broker.quote,
        signal=getattr(strategy.params, "signal", None),
        start=labels[0].strftime("%Y-%m-%d"), end=labels[-1].strftime("%Y-%m-%d"),
        data=origins, secrets=secrets,
    )
    write_json(folder / "manifest.json", meta)
    write_config(folder, loaded.raw, secrets=secrets)
    sink = logger.add(folder / "run.log", level="INFO", enqueue=False,
                      filter=masking_filter(secrets))
    for origin in origins.values():  # printed while loading, before this log existed
        warnings = origin.get("warnings")
        for warning in warnings if isinstance(warnings, list) else []:
            logger.info("data: {}", warning)
    try:
        metrics = _execute(loaded, strategy, history, decisions, folder)
    except BaseException as exc:
        finish_manifest(folder, meta, "failed", error=f"{type(exc).__name__}: {exc}",
                        secrets=secrets)
        if report:
            _write_report(folder)
        raise
    finally:
        logger.remove(sink)
    finish_manifest(folder, meta, "finished", secrets=secrets)
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
    trader = Trader.for_run(run, journal=journal, policy=strategy.rebalance,
                            venue=AnyAmountVenue(), run_tag=run_tag(folder))
    plan = ExecutionPlan(
        decisions=decisions,
        scheduled=scheduled_days(history, strategy.rebalance),
        label_to_time={lbl.date(): t for lbl, t in zip(labels, history.clock, strict=True)},
        trader=trader,
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
        return export(folder, journal, traded=strategy.traded_symbols(),
                      quote=run.broker.quote, cash=run.broker.cash,
                      benchmarks=history.dated_closes(strategy.benchmark_symbols()))
    finally:
        journal.close()


def _write_report(folder: Path) -> None:
    from papertrade.report.html import write_report

    try:
        write_report(folder)
    except Exception as exc:  # a report failure must not lose a finished backtest
        logger.warning("report.html not written: {}", exc)
        (folder / "report.error.txt").write_text(json.dumps({"error": str(exc)}))
