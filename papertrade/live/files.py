"""A live run's review files, kept current: the backtest's exports and report after decisions.

:class:`LiveFiles` subscribes to the run's events (:mod:`papertrade.live.events`). After every
decision has been executed (when the loop announces its next wait) it rewrites ``equity.csv``,
``trades.csv``, ``weights.csv``, ``benchmarks.csv``, ``signals.csv`` and ``metrics.json`` with
the backtest's exporter (:func:`papertrade.runfolder.export.export`) and ``report.html`` with
the backtest's report, whose header shows the run's live state and last decision. Each file is
replaced atomically (temp file + rename), so a reader never sees half of one.

Two promises: a refresh failure never stops trading (it is logged, once per distinct
problem), and refreshing never makes a replay much slower. The first :data:`FIRST` decisions
of a run are always followed by a refresh (someone who just started a run looks at it); after
them a refresh is skipped when the time spent refreshing would exceed ``max_share`` of the wall
time since the start. A real-time run, whose decisions are hours apart, is therefore refreshed
after every decision; a replay racing through years is refreshed about every second, and
always when it stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import pandas as pd
from loguru import logger

from papertrade.journal import Journal
from papertrade.live import events as ev
from papertrade.runfolder.export import export
from papertrade.util.text import one_line

#: the share of wall time refreshing may take in a replay
MAX_SHARE: Final = 0.05
#: decisions always followed by a refresh, whatever it costs
FIRST: Final = 5


class LiveFiles:
    """Rewrites a live run's exports and ``report.html``; an :class:`~.events.EventBus`
    subscriber (``bus.subscribe(files)``)."""

    def __init__(self, folder: Path, journal: Journal, *, traded: list[str], quote: str,
                 cash: float, dust_notional: float,
                 benchmarks: Callable[[], Mapping[str, pd.Series]],
                 max_share: float = MAX_SHARE,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder
        self.journal = journal
        self.traded = traded
        self.quote = quote
        self.cash = cash
        self.dust_notional = dust_notional
        self.benchmarks = benchmarks
        self.max_share = max_share
        self.timer = timer
        self.pending = False  # a decision not yet in the files
        self.refreshes = 0
        self.metrics: dict[str, Any] | None = None
        self._spent = 0.0
        self._started = timer()
        self._reported: set[str] = set()

    def __call__(self, event: ev.LiveEvent) -> None:
        if isinstance(event, ev.Decision):
            self.pending = True
        elif isinstance(event, ev.Waiting) and self.pending:
            self.refresh()
        elif isinstance(event, ev.Stopped):  # the session exported and finished the manifest
            self.report()
            elapsed = self.timer() - self._started
            if self.refreshes:
                    logger.info("review files refreshed {} times in {:.2f} s ({:.1%} of {:.1f} s)",
                            self.refreshes, self._spent,
                            self._spent / elapsed if elapsed else 0.0, elapsed)
        elif isinstance(event, ev.Crashed):
            self.refresh(force=True)

    def due(self) -> bool:
        """Whether a refresh is owed now: one of the first :data:`FIRST`, or the time spent
        refreshing is within ``max_share`` of the wall time since the start."""
        if self.refreshes < FIRST:
            return True
        return self._spent <= self.max_share * (self.timer() - self._started)

    def refresh(self, force: bool = False) -> bool:
        """Rewrite the exports and the report now (unless throttled and not ``force``);
        True when written. Never raises: trading goes on whatever happens here."""
        if not force and not self.due():
            return False
        began = self.timer()
        try:
            self.metrics = export(self.folder, self.journal, traded=self.traded,
                                  quote=self.quote, benchmarks=self.benchmarks(),
                                  cash=self.cash, dust_notional=self.dust_notional)
            self._write_report()
        except Exception as exc:  # a full disk or a bug here must not stop trading
            self._warn(f"{type(exc).__name__}: {exc}")
            return False
        finally:
            self._spent += self.timer() - began
        self.pending = False
        self.refreshes += 1
        return True

    def report(self) -> bool:
        """Rewrite ``report.html`` only (the exports are current); never raises."""
        try:
            self._write_report()
        except Exception as exc:
            self._warn(f"{type(exc).__name__}: {exc}")
            return False
        return True

    def _write_report(self) -> None:
        from papertrade.report.html import write_report  # plotly: only once there is a report

        write_report(self.folder)

    def _warn(self, problem: str) -> None:
        problem = one_line(problem, 300)
        if problem not in self._reported:
            self._reported.add(problem)
            logger.warning("review files of {} not refreshed (trading goes on): {}",
                           self.folder.name, problem)
