"""The composition root: the only place that wires config, data, strategy, broker and journal.

``run_backtest`` validates everything it can *before* creating the run folder, so bad input
leaves nothing half-written behind; once the folder exists, a failure is recorded in its
manifest (status ``failed``) and re-raised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from papertrade.assembly import build_strategy, load_history, run_identity
from papertrade.config import LoadedConfig
from papertrade.config_effective import BACKTEST_HEADER
from papertrade.data.history import MarketHistory
from papertrade.data.sources import stale_data_warning
from papertrade.errors import ConfigError
from papertrade.journal import Journal
from papertrade.report import write_report_or_note
from papertrade.runfolder import (
    create_run_folder,
    finish_manifest,
    manifest,
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
    progress: Callable[[str], None] = lambda step: None,
) -> RunResult:
    """Backtest ``loaded`` on its data through backtrader; returns the run folder.

    ``progress`` is told each step as it starts (``"loading data: 10 symbols"``...).
    """
    run = loaded.run
    if start and end and start > end:
        raise ConfigError(loaded.path, "--start", f"{start} is after --end {end}",
                          "pass a start before the end")
    strategy = build_strategy(loaded, strategy_paths)
    symbols = {*strategy.symbol_keys().values(), *strategy.benchmark_symbols()}
    progress(f"loading data: {len(symbols)} symbols")
    history, origins = load_history(loaded, strategy, start, end)
    stale = None if end or run.data.end else stale_data_warning(history, origins, loaded.path)
    if stale:
        logger.warning("{}", stale)
    progress(f"deciding: {strategy.name} on {len(history.clock):,} bars")
    decisions = checked_decide(strategy, history)

    labels = history.labels()
    identity = run_identity(loaded, strategy, strategy_paths, start, end, labels, origins)
    effective, code = identity.effective, identity.code
    folder = create_run_folder(run.runs_dir, run.name, "backtest", identity.digest)
    secrets = secret_values(loaded.raw)
    meta = manifest(
        folder, name=run.name, mode="backtest", strategy=run.strategy.name,
        config_file=loaded.path, quote=run.broker.quote,
        signal=getattr(strategy.params, "signal", None),
        start=labels[0].strftime("%Y-%m-%d"), end=labels[-1].strftime("%Y-%m-%d"),
        data=origins, secrets=secrets,
    )
    meta["strategy_code"] = code
    write_json(folder / "manifest.json", meta)
    write_config(folder, effective, secrets=secrets, header=BACKTEST_HEADER)
    sink = logger.add(folder / "run.log", level="INFO", enqueue=False,
                      filter=masking_filter(secrets))
    for origin in origins.values():  # printed while loading, before this log existed
        warnings = origin.get("warnings")
        for warning in warnings if isinstance(warnings, list) else []:
            logger.info("data: {}", warning)
    try:
        progress("simulating fills (backtrader)")
        metrics = _execute(loaded, strategy, history, decisions, folder)
    except BaseException as exc:
        finish_manifest(folder, meta, "failed", error=f"{type(exc).__name__}: {exc}",
                        secrets=secrets)
        if report:
            write_report_or_note(folder)
        raise
    finally:
        logger.remove(sink)
    finish_manifest(folder, meta, "finished", secrets=secrets)
    if report:
        progress("writing report.html")
        write_report_or_note(folder)
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
