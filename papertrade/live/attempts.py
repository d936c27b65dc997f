"""Each attempt of a live run keeps its error: which run folders a restart may carry on, and
the journal entry a failed attempt leaves (``papertrade runs show`` lists it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
from loguru import logger

from papertrade.journal import Journal
from papertrade.util.secrets import mask


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
