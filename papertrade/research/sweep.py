"""``papertrade sweep``: run a grid of configs, stream the results into a sweep run folder.

The folder ``runs/<UTC>-<name>-sweep-<hash>/`` holds ``manifest.json``, ``config.yaml`` (the
base config), ``grid.json`` (everything needed to redo or resume the sweep), ``results.csv``
(one row per config: ``config``, the grid keys, then every metric of ``metrics.json``),
``returns.npy`` (each config's per-bar returns, for the overfitting statistics),
``overfitting.json``, ``metrics.json`` (the best config's metrics, so ``runs list`` ranks
sweeps like runs), ``run.log`` and ``report.html``; a walk-forward adds ``folds.csv`` and
``oos_equity.csv``. Everything is checked before the folder is created.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from loguru import logger

from papertrade.config import LoadedConfig, load_config
from papertrade.errors import ConfigError, RunFolderError
from papertrade.report import write_report_or_note
from papertrade.research import grid as grids
from papertrade.research.engine import DEFAULT_ENGINE, ENGINES, EngineSpec
from papertrade.research.execute import (
    EnginePlugin,
    Item,
    Progress,
    Window,
    chunk_size,
    cluster,
    run_chunks,
)
from papertrade.research.results import (
    LOWER_IS_BETTER,
    RESULTS,
    ResultsWriter,
    ReturnsWriter,
    done_keys,
    finish_results,
    metric_names,
)
from papertrade.research.walkforward import Fold, folds
from papertrade.runfolder import (
    create_run_folder,
    finish_manifest,
    manifest,
    read_json,
    run_digest,
    write_config,
    write_json,
)
from papertrade.runfolder.layout import GRID

__all__ = ["GRID", "SweepSpec", "objective_better", "prepare", "run_sweep"]
from papertrade.util.secrets import masking_filter, secret_values
from papertrade.util.text import did_you_mean

#: a rough cost per config, for sizing chunks before the first result
COST_S: Final = {"backtrader": 1.0, "sim": 0.005}


@dataclass(frozen=True)
class SweepSpec:
    """What the command line asked for (``grid.json``): enough to redo or resume a sweep."""

    config: str
    grid: list[tuple[str, list[str]]]
    sets: list[str] = field(default_factory=list)
    samples: int | None = None
    seed: int = 0
    objective: str = "sharpe"
    walk_forward: str | None = None
    anchored: bool = False
    start: str | None = None
    end: str | None = None
    engine: str = DEFAULT_ENGINE
    strategy_paths: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> SweepSpec:
        """The spec as ``grid.json`` stores it."""
        fields = dict(payload["spec"])
        fields["grid"] = [(k, list(v)) for k, v in fields["grid"]]
        return cls(**fields)

    def window(self) -> tuple[dt.date | None, dt.date | None]:
        """``--start``/``--end`` as dates."""
        return (dt.date.fromisoformat(self.start) if self.start else None,
                dt.date.fromisoformat(self.end) if self.end else None)


@dataclass
class Prepared:
    """A sweep checked in full, ready to run (nothing written yet)."""

    spec: SweepSpec
    loaded: LoadedConfig
    axes: list[grids.Axis]
    points: list[grids.Point]
    first: dt.date
    last: dt.date
    folds: list[Fold]
    origins: dict[str, dict[str, object]]
    benchmark: Any  # pd.Series of the benchmark's closes by date, or None
    strategy: str
    quote: str

    @property
    def keys(self) -> list[str]:
        """The grid's key paths."""
        return [a.key for a in self.axes]

    def items(self) -> list[tuple[Window, list[Item]]]:
        """Every (window, [(fold, config, values)]) to evaluate, in grid order."""
        if not self.folds:
            return [((None, None), [(0, p.index, p.as_dict(self.keys)) for p in self.points])]
        return [((f.train_start, f.train_end),
                 [(f.fold, p.index, p.as_dict(self.keys)) for p in self.points])
                for f in self.folds]


def check_objective(objective: str) -> None:
    """An objective names a metric of metrics.json."""
    names = metric_names()
    if objective not in names or objective == "kill_switch":
        hint = did_you_mean(objective, names)
        raise ConfigError("command line", "--objective", f"unknown metric '{objective[:60]}'",
                          hint or f"one of {', '.join(n for n in names if n != 'kill_switch')}")


def prepare(spec: SweepSpec) -> Prepared:
    """Check every key, value, combination, the objective, the engine and the data."""
    from papertrade.runner import build_strategy, load_history

    if spec.engine not in ENGINES:
        hint = did_you_mean(spec.engine, ENGINES)
        raise ConfigError("command line", "--engine", f"unknown engine '{spec.engine[:40]}'",
                          hint or f"one of {', '.join(ENGINES)}")
    check_objective(spec.objective)
    if spec.samples is not None and spec.samples < 1:
        raise ConfigError("command line", "--samples", "must be at least 1", "pass N >= 1")
    start, end = spec.window()
    if start and end and start > end:
        raise ConfigError("command line", "--start", f"{start} is after --end {end}",
                          "pass a start before the end")
    config = Path(spec.config)
    paths = [Path(p) for p in spec.strategy_paths]
    loaded = load_config(config, spec.sets)
    axes = grids.check_axes(config, spec.sets, spec.grid, paths)
    chosen = grids.points(axes, spec.samples, spec.seed)
    grids.check_points(loaded, [a.key for a in axes], chosen, paths)
    strategy = build_strategy(loaded, paths)
    history, origins = load_history(loaded, strategy, start, end)
    labels = history.labels()
    first, last = labels[0].date(), labels[-1].date()
    fold_list = folds(first, last, spec.walk_forward, spec.anchored) if spec.walk_forward else []
    if spec.anchored and not spec.walk_forward:
        raise ConfigError("command line", "--anchored", "needs --walk-forward",
                          "add --walk-forward TRAIN:TEST, e.g. 3y:6m")
    traded = set(strategy.traded_symbols())
    symbols = strategy.benchmark_symbols()
    chosen_bench = next((s for s in symbols if s in traded), symbols[0] if symbols else None)
    benchmark = (history.dated_closes([chosen_bench])[chosen_bench]
                 if chosen_bench is not None else None)
    return Prepared(spec, loaded, axes, chosen, first, last, fold_list, origins, benchmark,
                    strategy.name, loaded.run.broker.quote)


def _grid_json(prep: Prepared) -> dict[str, Any]:
    return {
        "spec": asdict(prep.spec),
        "axes": [{"key": a.key, "values": list(a.texts)} for a in prep.axes],
        "configs": len(prep.points),
        "grid_size": grids.size(prep.axes),
        "folds": [{k: str(v) if isinstance(v, dt.date) else v for k, v in asdict(f).items()}
                  for f in prep.folds],
        "replay": replay_prefix(prep.spec),
        "config_digest": config_digest(prep.loaded),
    }


def config_digest(loaded: LoadedConfig) -> str:
    """A digest of the resolved base config: a resume refuses a config changed since."""
    return run_digest({"config": loaded.raw}, {})


def replay_prefix(spec: SweepSpec) -> str:
    """``papertrade backtest CONFIG [--start/--end] [--set ...]``: a row's sets follow."""
    parts = ["papertrade", "backtest", spec.config]
    if spec.start:
        parts += ["--start", spec.start]
    if spec.end:
        parts += ["--end", spec.end]
    for item in spec.sets:
        parts += ["--set", item]
    return " ".join(_quoted(p) for p in parts)


def _quoted(text: str) -> str:
    import shlex

    return shlex.quote(text)


def run_sweep(spec: SweepSpec, *, workers: int | None = None, scheduler: str | None = None,
              resume: Path | None = None, progress: bool = True) -> Path:
    """Check, then run the sweep into a new folder (or finish ``resume``); returns it."""
    prep = prepare(spec)
    if resume is not None:
        _check_resume(resume, prep)
    with cluster(workers, scheduler) as client:
        if resume is None:
            digest = run_digest({"config": prep.loaded.raw, "sweep": asdict(spec)}, prep.origins)
            folder = create_run_folder(prep.loaded.run.runs_dir, prep.loaded.run.name, "sweep",
                                       digest)
        else:
            folder = resume
        secrets = secret_values(prep.loaded.raw)
        meta = _start_folder(folder, prep, resume is not None, secrets, scheduler, workers)
        sink = logger.add(folder / "run.log", level="INFO", enqueue=False,
                          filter=masking_filter(secrets))
        started = time.monotonic()
        timings: dict[str, float] = {}
        try:
            counts = _execute(client, folder, prep, progress, timings)
        except KeyboardInterrupt:
            if (folder / RESULTS).exists():
                finish_results(folder / RESULTS, _lead(prep))
            finish_manifest(folder, {**meta, "counts": _counts(folder, prep)}, "failed",
                            error="interrupted; finish it with papertrade sweep --resume "
                            f"{folder}", secrets=secrets)
            raise
        except BaseException as exc:
            finish_manifest(folder, meta, "failed", error=f"{type(exc).__name__}: {exc}",
                            secrets=secrets)
            raise
        finally:
            logger.remove(sink)
        timings["seconds"] = time.monotonic() - started
        _finish(folder, prep, meta, counts, timings, secrets)
    return folder


def _check_resume(folder: Path, prep: Prepared) -> None:
    grid, _ = read_json(folder / GRID)
    stored = grid.get("config_digest") if isinstance(grid, dict) else None
    if stored is not None and stored != config_digest(prep.loaded):
        raise ConfigError(prep.spec.config, "", "changed since the sweep started (its resolved "
                          "config differs from the one in the sweep folder)",
                          "restore it, or start a new sweep instead of --resume")


def _lead(prep: Prepared) -> list[str]:
    return ["fold", "config", *prep.keys] if prep.folds else ["config", *prep.keys]


def _counts(folder: Path, prep: Prepared) -> dict[str, int]:
    total = len(prep.points) * max(1, len(prep.folds))
    return {"total": total, "done": len(done_keys(folder / RESULTS))}


def _start_folder(folder: Path, prep: Prepared, resuming: bool, secrets: Collection[str],
                  scheduler: str | None, workers: int | None) -> dict[str, Any]:
    spec = prep.spec
    if resuming:
        old, problem = read_json(folder / "manifest.json")
        if problem or not isinstance(old, dict):
            raise RunFolderError(f"{folder}: cannot resume ({problem or 'bad manifest'})")
        meta = {**old, "status": "running", "error": None, "finished_at": None,
                "pid": os.getpid()}
    else:
        meta = manifest(
            folder, name=prep.loaded.run.name, mode="sweep", strategy=prep.strategy,
            config_file=spec.config, quote=prep.quote, start=str(prep.first),
            end=str(prep.last), data=prep.origins, secrets=secrets, engine=spec.engine,
            objective=spec.objective, walk_forward=spec.walk_forward, anchored=spec.anchored,
            configs=len(prep.points), folds=len(prep.folds),
        )
        write_config(folder, prep.loaded.raw, secrets=secrets)
        write_json(folder / GRID, _grid_json(prep))
    meta["scheduler"] = scheduler or f"local ({workers or 'all'} workers)"
    meta["counts"] = _counts(folder, prep)  # `runs show` counts results.csv's rows meanwhile
    write_json(folder / "manifest.json", meta)
    return meta


def _execute(client: Any, folder: Path, prep: Prepared, show: bool,
             timings: dict[str, float]) -> dict[str, int]:
    """Run what is not done yet; ``timings`` gets ``setup_s`` (every worker loading the data
    and building its engine) and ``run_s`` (from the first task sent to the last row back)."""
    spec = prep.spec
    start, end = spec.window()
    engine = EngineSpec(spec.engine, prep.loaded, tuple(spec.strategy_paths), start, end)
    plugin = EnginePlugin(engine)
    setup = time.monotonic()
    client.register_plugin(plugin)
    timings["setup_s"] = time.monotonic() - setup
    done = done_keys(folder / RESULTS)
    todo: list[tuple[Window, Item]] = [
        (window, item) for window, items in prep.items() for item in items
        if (item[0], item[1]) not in done]
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = chunk_size(len(todo), n_workers, COST_S.get(spec.engine, 1.0))
    chunks: list[tuple[Window, list[Item]]] = []
    for window, item in todo:
        if chunks and chunks[-1][0] == window and len(chunks[-1][1]) < size:
            chunks[-1][1].append(item)
        else:
            chunks.append((window, [item]))
    logger.info("sweep: {} configs to run ({} already done), {} tasks on {} workers",
                len(todo), len(done), len(chunks), n_workers)
    lead = _lead(prep)
    writer = ResultsWriter(folder / RESULTS, [*lead])
    returns = ReturnsWriter(folder)
    values = {p.index: p.texts for p in prep.points}
    failed = 0

    def on_rows(rows: list[dict[str, Any]]) -> None:
        nonlocal failed
        dates = next((r["dates"] for r in rows if "dates" in r), None)
        out = []
        for row in rows:
            record: dict[str, Any] = {"config": row["config"]}
            if prep.folds:
                record["fold"] = row["fold"]
            record.update(zip(prep.keys, values[row["config"]], strict=True))
            record.update(row.get("metrics", {}))
            if "error" in row:
                failed += 1
                record["error"] = row["error"]
                logger.warning("config {}: {}", row["config"], row["error"])
            if "returns" in row and dates is not None:
                returns.append(row["config"], dates, row["returns"])
            out.append(record)
        writer.append(out)

    bar = Progress(len(todo), "sweep" if not prep.folds else "walk-forward (train)", show)
    sent = time.monotonic()
    try:
        run_chunks(client, plugin.name, chunks, not prep.folds, on_rows, bar)
    finally:
        bar.close()
        writer.close()
    timings["run_s"] = time.monotonic() - sent
    rows = finish_results(folder / RESULTS, lead)
    counts = {"total": len(prep.points) * max(1, len(prep.folds)), "done": rows,
              "failed": failed}
    if prep.folds:
        from papertrade.research.wf_run import run_walk_forward

        run_walk_forward(client, plugin.name, folder, prep)
    return counts


def _finish(folder: Path, prep: Prepared, meta: dict[str, Any], counts: dict[str, int],
            timings: dict[str, float], secrets: Collection[str]) -> None:
    from papertrade.research.summary import write_summaries

    best = write_summaries(folder, prep)
    seconds, run_s = timings["seconds"], timings.get("run_s", 0.0)
    meta = {**meta, "counts": counts, "best": best,
            "timings": {**{k: round(v, 3) for k, v in timings.items()},
                        "configs_per_s": round(counts["done"] / seconds, 3) if seconds else None,
                        "run_configs_per_s": round(counts["done"] / run_s, 3) if run_s else None}}
    finish_manifest(folder, meta, "finished", secrets=secrets)
    logger.info("sweep finished: {} rows in {:.1f} s ({:.1f} s loading data on the workers)",
                counts["done"], seconds, timings.get("setup_s", 0.0))
    write_report_or_note(folder)


def objective_better(objective: str, a: float, b: float | None) -> bool:
    """Whether ``a`` beats ``b`` on ``objective`` (None always loses)."""
    if b is None:
        return True
    return a < b if objective in LOWER_IS_BETTER else a > b
