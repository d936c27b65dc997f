"""The effective configuration of a run: what its folder's ``config.yaml`` holds.

Every key with its value (defaults, ``--set`` and the strategy's validated params included),
the data window as the run resolved it, and every path absolute, so the file still resolves
when read from inside the run folder (or from any working directory): ``papertrade backtest
RUN_DIR/config.yaml`` reproduces the run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Final

from papertrade.config_models import CsvSource, LoadedConfig
from papertrade.util.paths import resolve_path

BACKTEST_HEADER: Final = (
    "The effective configuration of this run: the config file with its --set overrides,\n"
    "--start/--end and every default applied; paths absolute. Reproduce the run with\n"
    "  papertrade backtest <this file>\n"
    "A value shown as *** is a masked secret: set it again to run this file.\n"
)
LIVE_HEADER: Final = (
    "The effective configuration of this live run: the config file with its --set overrides\n"
    "and every default applied; paths absolute. A value shown as *** is a masked secret.\n"
)


def effective_config(loaded: LoadedConfig, params: dict[str, Any], start: dt.date | None,
                     end: dt.date | None) -> dict[str, Any]:
    """``loaded`` with every default, ``params`` (the strategy's validated parameters, as
    JSON) as ``strategy.params``, ``start``/``end`` as ``data.start``/``data.end``, and its
    paths made absolute (``~`` kept: it reads the same anywhere)."""
    run = loaded.run
    base = Path(loaded.path).resolve().parent
    raw: dict[str, Any] = run.model_dump(mode="json")
    raw["strategy"]["params"] = params
    if run.strategy.path is not None:
        path = run.strategy.path.expanduser()
        raw["strategy"]["path"] = str(path if path.is_absolute() else (base / path).resolve())
    raw["data"]["start"], raw["data"]["end"] = start, end
    for symbol, source in run.data.symbols.items():
        if isinstance(source, CsvSource):
            raw["data"]["symbols"][symbol]["path"] = str(resolve_path(source.path, base)
                                                         .resolve())
    cache = run.data.cache_dir
    if not str(cache).startswith("~"):  # relative: to the working directory, as loaded
        raw["data"]["cache_dir"] = str(cache.resolve())
    raw["runs_dir"] = str(run.runs_dir.expanduser().resolve())
    return raw


def digested(effective: dict[str, Any]) -> dict[str, Any]:
    """The effective config as a run's hash covers it: all but where the run is written."""
    return {key: value for key, value in effective.items() if key != "runs_dir"}
