"""Running a sweep's configs on Dask: a local cluster by default, or ``--scheduler ADDRESS``.

Each worker builds the engine once, when :class:`EnginePlugin` is registered (market data
loaded once per worker, not per config), and keeps one engine per date window (walk-forward
folds). Configs travel in chunks (one task evaluates many), results come back with
``as_completed`` and are handed to the caller as they arrive; a finished future is dropped at
once, so memory does not grow with the number of configs. Tasks are pure: a lost worker's
chunks are recomputed by the scheduler.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker

from papertrade.errors import ConfigError, PapertradeError
from papertrade.research.engine import Engine, EngineSpec
from papertrade.research.results import flatten
from papertrade.util.text import one_line

Window = tuple[dt.date | None, dt.date | None]
#: (fold, config number, {key path: parsed value})
Item = tuple[int, int, dict[str, Any]]
PLUGIN_PREFIX: Final = "papertrade-sweep-"


class EnginePlugin(WorkerPlugin):
    """Holds a worker's engines, one per window; the base window's is built at setup."""

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec
        self.name = PLUGIN_PREFIX + spec.key
        self.engines: dict[Window, Engine] = {}

    def setup(self, worker: Any = None) -> None:
        """Load the market data once, when the worker receives the plugin; the worker's log
        keeps warnings only (each backtest would log its progress)."""
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING", format="{level: <7} {message}")
        self.engines = {}
        self.engine((None, None))

    def engine(self, window: Window) -> Engine:
        """The engine over ``window`` ((None, None): the spec's own window)."""
        if window not in self.engines:
            self.engines[window] = self.spec.build(*window)
        return self.engines[window]


def _plugin(name: str) -> EnginePlugin:
    plugin = get_worker().plugins[name]
    assert isinstance(plugin, EnginePlugin)
    return plugin


def evaluate(name: str, window: Window, items: Sequence[Item],
             want_returns: bool) -> list[dict[str, Any]]:
    """Run each item on the worker's engine; one row per item (a failing config gets its
    error in the row, not a failed task)."""
    engine = _plugin(name).engine(window)
    rows: list[dict[str, Any]] = []
    dated = False  # the chunk's clock travels once, with its first successful row
    with _collector_paused():
        for fold, config, overrides in items:
            rows.append(_evaluate_one(engine, fold, config, overrides, want_returns,
                                      with_dates=not dated))
            dated = dated or "dates" in rows[-1]
    return rows


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a chunk runs: a worker's heap (Dask's own
    objects, the market data) is large, so each full collection the simulator's many small
    allocations trigger costs far more than in a plain process. Reference counting still
    frees nearly everything at once; the next collection after the chunk takes the rest."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _evaluate_one(engine: Engine, fold: int, config: int, overrides: dict[str, Any],
                  want_returns: bool, with_dates: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"fold": fold, "config": config}
    try:
        result = engine.run(overrides)
    except PapertradeError as exc:
        row["error"] = one_line(str(exc), 300)
        return row
    row["metrics"] = flatten(result.metrics)
    if want_returns:
        equity = result.equity
        row["returns"] = (equity.pct_change().to_numpy()[1:] if len(equity) > 1
                          else equity.to_numpy()[:0])
        if with_dates:
            row["dates"] = [str(d)[:10] for d in equity.index[1:]]
    return row


def run_one(name: str, window: Window, overrides: Mapping[str, Any]) -> Any:
    """One config on one window, its whole result (walk-forward test runs)."""
    return _plugin(name).engine(window).run(overrides)


@contextmanager
def cluster(workers: int | None, scheduler: str | None) -> Iterator[Client]:
    """A client of ``scheduler``, or of a local cluster of ``workers`` processes."""
    if scheduler:
        try:
            client = Client(scheduler, timeout=10, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError("command line", "--scheduler",
                              f"cannot reach {one_line(scheduler, 80)} "
                              f"({one_line(str(exc), 100)})",
                              "start one with `dask scheduler` and `dask worker ADDRESS`, "
                              "or drop --scheduler to run locally") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                         dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(local, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        local.close()


def chunk_size(total: int, workers: int, per_config_s: float) -> int:
    """Configs per task: ~8 tasks per worker, each at least ~0.2 s, at most 512 configs."""
    by_share = math.ceil(total / max(1, 8 * workers))
    by_time = math.ceil(0.2 / max(per_config_s, 1e-6))
    return max(1, min(512, by_share, by_time))


class Progress:
    """A rich progress bar with rate and ETA on a terminal; plain lines otherwise."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.done, self.label = total, 0, label
        self.started = time.monotonic()
        self.last_line = 0.0
        self.bar: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self.bar.start()
            self.task = self.bar.add_task(label, total=total, rate="")
        self.enabled = enabled

    def advance(self, n: int) -> None:
        """``n`` more configs done."""
        self.done += n
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        if self.bar is not None:
            self.bar.update(self.task, advance=n, rate=f"{rate:,.1f} configs/s")
        elif self.enabled and (time.monotonic() - self.last_line > 5 or self.done >= self.total):
            self.last_line = time.monotonic()
            left = (self.total - self.done) / rate if rate > 0 else math.inf
            eta = f"{left:,.0f} s" if math.isfinite(left) else "?"
            print(f"{self.label}: {self.done}/{self.total} configs, {rate:,.1f} configs/s, "
                  f"ETA {eta}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Stop the bar."""
        if self.bar is not None:
            self.bar.stop()


def run_chunks(client: Client, name: str, chunks: Sequence[tuple[Window, list[Item]]],
               want_returns: bool, on_rows: Callable[[list[dict[str, Any]]], None],
               progress: Progress) -> None:
    """Submit every chunk and hand each result to ``on_rows`` as it arrives. On Ctrl-C the
    pending tasks are cancelled and ``KeyboardInterrupt`` is re-raised."""
    futures = [client.submit(evaluate, name, window, items, want_returns, pure=False)
               for window, items in chunks]
    pending = {f.key: f for f in futures}
    finished = as_completed(futures, loop=client.loop)
    del futures
    try:
        for future in finished:
            rows = future.result()
            pending.pop(future.key, None)
            del future
            on_rows(rows)
            progress.advance(len(rows))
    except BaseException:
        client.cancel(list(pending.values()))
        raise
