"""The composition root: the only place that wires config, data, strategy, broker and journal.

``run_backtest`` validates everything it can *before* creating the run folder, so bad input
leaves nothing half-written behind; once the folder exists, a failure is recorded in its
manifest (status ``failed``) and re-raised.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from papertrade.config import LoadedConfig, capped
from papertrade.config_effective import BACKTEST_HEADER, digested, effective_config
from papertrade.data.history import MarketHistory
from papertrade.data.sources import check_symbols, load_market, stale_data_warning
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
from papertrade.strategies import Strategy, get_strategy
from papertrade.strategies.base import Decisions, checked_decide, scheduled_days
from papertrade.strategies.loading import source_identity
from papertrade.trader import AnyAmountVenue, Trader
from papertrade.util.secrets import masking_filter, secret_values


@dataclass(frozen=True)
class RunResult:
    """Where a run was written and its headline figures."""

    folder: Path
    metrics: dict[str, Any]


def build_strategy(loaded: LoadedConfig, strategy_paths: Sequence[Path] = ()) -> Strategy:
    """The configured strategy (its params validated by its own model), its symbols checked
    against the data sources. ``strategy.path`` is read from the config's folder;
    ``strategy_paths`` are folders of user strategies (``--strategy-path``)."""
    run = loaded.run
    path = run.strategy.path
    if path is not None:
        path = path.expanduser()
        path = path if path.is_absolute() else Path(loaded.path).resolve().parent / path
    try:
        strategy = get_strategy(run.strategy.name, loaded.path, path=path,
                                search=strategy_paths).from_raw(run.strategy.params, loaded.path)
    except ConfigError as exc:  # a name or value from the config may be kilobytes long
        raise capped(exc) from None
    check_symbols(strategy.symbol_keys(), run.data, loaded.path)
    quote = run.broker.quote
    traded = set(strategy.traded_symbols())  # once: a universe may list thousands of symbols
    for key, symbol in strategy.symbol_keys().items():
        if symbol in traded and symbol.split("/")[-1] != quote:
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
    effective = effective_config(loaded, strategy.params.model_dump(mode="json"),
                                 start or run.data.start or labels[0].date(),
                                 end or run.data.end or labels[-1].date())
    found_in = _found_in(strategy, strategy_paths)
    if found_in is not None:  # the file, so the config.yaml runs without --strategy-path
        effective["strategy"]["path"] = str(found_in)
    code = source_identity(type(strategy))
    folder = create_run_folder(run.runs_dir, run.name, "backtest",
                               run_digest({**digested(effective), "strategy_code": code},
                                          origins))
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
            _write_report(folder)
        raise
    finally:
        logger.remove(sink)
    finish_manifest(folder, meta, "finished", secrets=secrets)
    if report:
        progress("writing report.html")
        _write_report(folder)
    return RunResult(folder, metrics)


def _found_in(strategy: Strategy, strategy_paths: Sequence[Path]) -> Path | None:
    """The file of a strategy found in a ``--strategy-path`` folder, else None."""
    import inspect

    try:
        source = inspect.getsourcefile(type(strategy))
    except TypeError:
        return None
    if source is None:
        return None
    file = Path(source).resolve()
    folders = [Path(p).expanduser().resolve() for p in strategy_paths]
    return file if any(folder in file.parents for folder in folders) else None


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
