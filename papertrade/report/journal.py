"""Read-only access to a run's ``journal.sqlite`` that never disturbs its writer.

The journal is in WAL mode. While a writer has it open (a ``-wal`` file exists), a reader
opened with ``mode=ro`` takes only a WAL read lock,
which never blocks the writer (it only keeps a checkpoint from passing the reader's
snapshot), and it cannot write: no checkpoint, no ``-wal`` truncation, no schema change.
When no ``-wal`` exists nobody has the journal open, and it is read as ``immutable`` (no
locks at all, and no ``-wal``/``-shm`` files created in a finished run folder).
Each query runs in its own short autocommit read; the connection is closed right after, so no
snapshot is ever held between two commands. A busy or damaged journal becomes a *note*, and so
does one that is not a regular file inside its run folder (a FIFO, a device, a link out), or
whose ``-wal``/``-shm`` companion is not: SQLite would block on a FIFO.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from papertrade.runfolder.files import file_problem, loads
from papertrade.runfolder.layout import MAX_JOURNAL_BYTES

BUSY_TIMEOUT_S: Final = 0.25


def journal_problem(path: Path) -> str:
    """'' if the journal and its ``-wal``/``-shm`` files (where present) are safe to open."""
    problem = file_problem(path, MAX_JOURNAL_BYTES)
    if problem:
        return problem
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.is_symlink() or companion.exists():
            problem = file_problem(companion, MAX_JOURNAL_BYTES)
            if problem:
                return problem
    return ""


@contextmanager
def open_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to ``path`` (raises ``sqlite3.Error`` if it cannot open)."""
    problem = journal_problem(path)
    if problem:
        raise sqlite3.OperationalError(problem)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    if not path.with_name(path.name + "-wal").exists():
        # no connection is open (the last one removes the -wal file): read the file as is,
        # taking no lock and leaving no -wal/-shm behind in a finished run folder
        uri += "&immutable=1"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    with closing(conn):
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only = 1")
        yield conn


class JournalReader:
    """Queries a journal; every failure is recorded in ``notes`` and yields no rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.notes: list[str] = []
        self._tables: set[str] | None = None

    @property
    def exists(self) -> bool:
        """Whether there is a journal file (an unsafe one is noted, and read as absent)."""
        problem = journal_problem(self.path)
        if problem and not problem.endswith(" missing"):
            note = f"{self.path.name} unreadable ({problem})"
            if note not in self.notes:
                self.notes.append(note)
        return not problem

    def tables(self) -> set[str]:
        if self._tables is None:
            rows = self._query("SELECT name FROM sqlite_master WHERE type = 'table'", ())
            self._tables = {str(r["name"]) for r in rows}
        return self._tables

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        if not self.exists:
            return []
        try:
            with open_readonly(self.path) as conn:
                return [dict(row) for row in conn.execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            note = f"journal.sqlite unreadable ({exc})"
            if note not in self.notes:
                self.notes.append(note)
            return []

    def select(self, table: str, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Run ``sql`` if ``table`` exists, noting its absence otherwise."""
        if not self.exists:
            return []
        if table not in self.tables():
            if self.tables() or not self.notes:
                note = f"journal.sqlite has no '{table}' table (older papertrade?)"
                if note not in self.notes:
                    self.notes.append(note)
            return []
        return self._query(sql, params)

    # ------------------------------------------------------------------- the questions

    def latest_decisions(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest decisions first, ``targets``/``inputs`` decoded from JSON."""
        rows = self.select(
            "decisions", "SELECT * FROM decisions ORDER BY id DESC LIMIT ?", (limit,)
        )
        for row in rows:
            row["targets"] = decode_json(row.get("targets"))
            row["inputs"] = decode_json(row.get("inputs"))
        return rows

    def count(self, table: str) -> int | None:
        rows = self.select(table, f'SELECT COUNT(*) AS n FROM "{table}"')
        return int(rows[0]["n"]) if rows else None

    def latest_positions(self) -> tuple[str, list[dict[str, Any]]]:
        """(time, rows) of the positions at the latest mark (none: all in cash then)."""
        latest = self.latest_equity()
        if latest is None:  # an old or partial journal: the newest snapshot there is
            rows = self.select(
                "positions",
                "SELECT * FROM positions WHERE time = (SELECT MAX(time) FROM positions) "
                "ORDER BY value DESC",
            )
            return (str(rows[0]["time"]) if rows else ""), rows
        rows = self.select(
            "positions",
            "SELECT * FROM positions WHERE time = ? ORDER BY value DESC", (latest["time"],),
        )
        return str(latest["time"]), rows

    def latest_equity(self) -> dict[str, Any] | None:
        rows = self.select("equity", "SELECT * FROM equity ORDER BY time DESC LIMIT 1")
        return rows[0] if rows else None

    def equity(self) -> list[dict[str, Any]]:
        return self.select("equity", "SELECT time, date, equity, cash FROM equity ORDER BY time")

    def fills(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Fills newest first (``limit`` None: all, oldest first)."""
        if limit is None:
            return self.select("fills", "SELECT * FROM fills ORDER BY time, id")
        return self.select("fills", "SELECT * FROM fills ORDER BY time DESC, id DESC LIMIT ?",
                           (limit,))

    def capital_events(self) -> list[dict[str, Any]]:
        """Capital that came or went without a trade (testnet resets, transfers), oldest
        first; none for a journal older than the table."""
        if not self.exists or "capital_events" not in self.tables():
            return []
        return self._query("SELECT time, kind, flow, equity_before, equity_after "
                           "FROM capital_events ORDER BY id", ())

    def problems(self, limit: int = 20) -> list[dict[str, Any]]:
        """Errors and rejections, newest first: events plus rejected orders."""
        out = self.select(
            "events",
            "SELECT time, level, kind, message FROM events WHERE kind IN "
            "('rejection', 'error') OR UPPER(level) IN ('ERROR', 'CRITICAL') "
            "ORDER BY time DESC, id DESC LIMIT ?",
            (limit,),
        )
        rejected = self.select(
            "orders",
            "SELECT time, symbol, side, qty, reason, client_order_id FROM orders "
            "WHERE status = 'rejected' ORDER BY time DESC, id DESC LIMIT ?",
            (limit,),
        )
        seen = {str(row["message"]) for row in out}
        for order in rejected:
            message = (
                f"order {order['client_order_id']} {order['side']} {order['qty']} "
                f"{order['symbol']} rejected: {order.get('reason') or 'no reason given'}"
            )
            if not any(str(order["client_order_id"]) in text for text in seen):
                out.append({"time": order["time"], "level": "ERROR", "kind": "rejection",
                            "message": message})
        out.sort(key=lambda row: str(row["time"]), reverse=True)
        return out[:limit]


def decode_json(value: Any) -> Any:
    """A journaled JSON text decoded; text that is not (bounded) JSON stays as it is."""
    if not isinstance(value, str):
        return value
    try:
        return loads(value)
    except ValueError:
        return value
