"""Names and limits of the run-folder format (docs/run-folder.md), shared by writer and reader."""

from __future__ import annotations

from typing import Final

#: the format this papertrade writes; readers accept it and older ones
FORMAT: Final = 1
MODES: Final = ("backtest", "testnet", "demo", "dry_run", "emulator", "study", "sweep")
STATUSES: Final = ("finished", "running", "crashed", "failed", "broken")

MANIFEST: Final = "manifest.json"
CONFIG: Final = "config.yaml"
LOG: Final = "run.log"
JOURNAL: Final = "journal.sqlite"
WEIGHTS: Final = "weights.csv"
TRADES: Final = "trades.csv"
EQUITY: Final = "equity.csv"
BENCHMARKS: Final = "benchmarks.csv"
SIGNALS: Final = "signals.csv"
METRICS: Final = "metrics.json"
REPORT: Final = "report.html"

#: an event study's files (``papertrade study``): no journal, equity or metrics
STUDY_EVENTS: Final = "events.csv"
STUDY_SUMMARY: Final = "summary.csv"
STUDY_PATHS: Final = "paths.csv"
STUDY_PLACEBOS: Final = "placebos.csv"
STUDY_FILES: Final = (MANIFEST, CONFIG, STUDY_EVENTS, STUDY_SUMMARY, STUDY_PATHS, STUDY_PLACEBOS)

#: files a run writes at its start; the others appear at the end (live: as it goes)
START_FILES: Final = (MANIFEST, CONFIG, LOG, JOURNAL)
END_FILES: Final = (EQUITY, BENCHMARKS, WEIGHTS, TRADES, SIGNALS, METRICS)

#: a sweep folder (mode ``sweep``): its own tables beside manifest, config, log, metrics, report
GRID: Final = "grid.json"
RESULTS: Final = "results.csv"
FOLDS: Final = "folds.csv"
OOS_EQUITY: Final = "oos_equity.csv"
OVERFITTING: Final = "overfitting.json"
SWEEP_START_FILES: Final = (MANIFEST, CONFIG, LOG, GRID)
SWEEP_END_FILES: Final = (RESULTS, METRICS)

#: folders of the runs folder that are not runs (names starting with ``_`` or ``.`` never are)
ASSETS_DIR: Final = "_assets"
REPORTS_DIR: Final = "_reports"
COMPARE_DIR: Final = "_compare"

#: what a reader accepts before calling a file broken (a run writes far less)
MAX_JSON_BYTES: Final = 4 * 1024 * 1024
MAX_JSON_DEPTH: Final = 32
MAX_CSV_BYTES: Final = 64 * 1024 * 1024
MAX_JOURNAL_BYTES: Final = 2 * 1024 * 1024 * 1024
