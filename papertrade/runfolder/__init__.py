"""The run folder (docs/run-folder.md): one home for its format, used by writer and reader.

- :mod:`.layout`: the format's file names, statuses, modes and the readers' size limits;
- :mod:`.write`: creating a run folder, writing its manifest, config and tables (the backtest
  runner and the live session);
- :mod:`.read`: a run's header (manifest, metrics, status), finding runs (``run_dirs``,
  ``resolve_run``), whether a run belongs to a runs folder;
- :mod:`.files`: safe reads (regular files only, no blocking, size and JSON-depth limits);
- :mod:`.process`: whether a run's writer is still alive.

This package imports only :mod:`papertrade.errors`, :mod:`papertrade.util`, the standard
library and light third-party libraries (no pandas at import time), so ``runs list`` stays
fast; it never imports the report, strategies, brokers, the live loop or the runner.
"""

from __future__ import annotations

from papertrade.runfolder.files import CsvTable, read_csv, read_json
from papertrade.runfolder.layout import FORMAT, MODES, STATUSES
from papertrade.runfolder.process import pid_alive
from papertrade.runfolder.read import (
    RunHeader,
    missing_files,
    parse_time,
    read_header,
    resolve_run,
    run_dirs,
    unreadable_files,
    within_runs_dir,
)
from papertrade.runfolder.write import (
    create_run_folder,
    finish_manifest,
    manifest,
    run_digest,
    run_tag,
    utc_now,
    write_config,
    write_csv,
    write_json,
)

__all__ = [
    "FORMAT",
    "MODES",
    "STATUSES",
    "CsvTable",
    "RunHeader",
    "create_run_folder",
    "finish_manifest",
    "manifest",
    "missing_files",
    "parse_time",
    "pid_alive",
    "read_csv",
    "read_header",
    "read_json",
    "resolve_run",
    "run_digest",
    "run_dirs",
    "run_tag",
    "unreadable_files",
    "utc_now",
    "within_runs_dir",
    "write_config",
    "write_csv",
    "write_json",
]
