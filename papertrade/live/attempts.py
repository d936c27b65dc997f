"""A live run's folder across attempts: which folder a restart carries on (or refuses to, after
the kill switch), the new folder a fresh start writes, and the journal entry a failed attempt
leaves, so each attempt keeps its error (``papertrade runs show`` lists it)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
from loguru import logger

from papertrade.config import LoadedConfig
from papertrade.config_effective import LIVE_HEADER, effective_config
from papertrade.errors import ConfigError, RunFolderError
from papertrade.journal import Journal
from papertrade.runfolder import (
    create_run_folder,
    manifest,
    read_json,
    run_digest,
    write_config,
    write_json,
)
from papertrade.strategies import Strategy
from papertrade.util.secrets import mask, secret_values


def decided(folder: Path) -> bool:
    """Whether the run folder's journal holds at least one decision or order."""
    path = folder / "journal.sqlite"
    if not path.is_file():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return any(db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                       for table in ("decisions", "orders"))
        finally:
            db.close()
    except sqlite3.Error:
        return False


def journal_error(journal: Journal, now: pd.Timestamp, error: str,
                  secrets: frozenset[str]) -> None:
    """Keep this attempt's error in the journal too: a resumed run's manifest is rewritten,
    its journal keeps every attempt's error (``runs show`` lists them)."""
    try:
        journal.event(now, "error", "error", f"run failed: {mask(error, secrets)}")
        journal.commit()
    except sqlite3.Error as problem:
        logger.warning("could not journal the run's error: {}", problem)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """A run folder's manifest, read safely (size-limited, regular files only); None if
    it cannot be read."""
    meta, _problem = read_json(folder / "manifest.json")
    return meta if isinstance(meta, dict) else None


# --------------------------------------------------------------------------- run folders


def find_resumable(runs_dir: Path, name: str, mode: str, digest: str) -> Path | None:
    """The latest unfinished run of the same config: a plain restart carries it on.

    A run that failed before its first decision has nothing to carry on: a restart gets a
    folder of its own, so that each failed attempt keeps its error (``runs show``)."""
    candidates = sorted(runs_dir.glob(f"*-{name}-{mode}-{digest}*")) if runs_dir.is_dir() else []
    for folder in reversed(candidates):
        status = (read_manifest(folder) or {}).get("status")
        if status == "running" or (status == "failed" and decided(folder)):
            return folder
    return None


def _refuse_after_kill_switch(runs_dir: Path, name: str, mode: str, digest: str) -> None:
    """A plain restart must not undo the kill switch by quietly starting a fresh run."""
    folders = sorted(runs_dir.glob(f"*-{name}-{mode}-{digest}*")) if runs_dir.is_dir() else []
    for folder in reversed(folders):
        meta = read_manifest(folder)
        if meta is None:
            continue
        reason = str(meta.get("stop_reason") or "")
        if reason.startswith("kill switch"):
            raise RunFolderError(
                f"the last run of this config ({folder.name}) was stopped by the {reason}; "
                "to trade again deliberately, start a new run with --set name=<new name>")
        return


def open_run_folder(loaded: LoadedConfig, strategy: Strategy, resume: Path | None
                    ) -> tuple[Path, dict[str, Any]]:
    """Create the run folder, or reopen the one to resume (checked against the config)."""
    run = loaded.run
    mode = run.broker.mode
    digest = run_digest(loaded.raw, {})
    folder = resume or find_resumable(run.runs_dir, run.name, mode, digest)
    if folder is not None:
        read, problem = read_json(folder / "manifest.json")
        if not isinstance(read, dict):
            raise RunFolderError(f"{folder}: cannot resume, manifest unreadable "
                                 f"({problem or 'not a JSON object'})")
        meta = read
        if meta.get("name") != run.name or meta.get("mode") != mode:
            raise ConfigError(loaded.path, "--resume",
                              f"{folder.name} is a {meta.get('mode')} run of "
                              f"'{meta.get('name')}', not a {mode} run of '{run.name}'",
                              "resume a run of this config, or drop --resume")
        meta.update(status="running", pid=os.getpid(), error=None,
                    resumed=[*meta.get("resumed", []), pd.Timestamp.now(tz="UTC").isoformat()])
        write_json(folder / "manifest.json", meta)
        return folder, meta
    _refuse_after_kill_switch(run.runs_dir, run.name, mode, digest)
    folder = create_run_folder(run.runs_dir, run.name, mode, digest)
    secrets = secret_values(loaded.raw)
    meta = manifest(folder, name=run.name, mode=mode, strategy=run.strategy.name,
                    config_file=loaded.path, quote=run.broker.quote, cash=run.broker.cash,
                    signal=getattr(strategy.params, "signal", None),
                    start=None, end=None, data={}, secrets=secrets)
    write_json(folder / "manifest.json", meta)
    effective = effective_config(loaded, strategy.params.model_dump(mode="json"),
                                 run.data.start, run.data.end)
    write_config(folder, effective, secrets=secrets, header=LIVE_HEADER)
    return folder, meta
