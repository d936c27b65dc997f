"""The run's system of record: an SQLite journal in WAL mode (schema in docs/run-folder.md).

Writers call :meth:`Journal.commit` whenever a record must survive a crash (the live loop
commits before every exchange call; a backtest commits in batches). Readers open the file
read-only and never block the writer.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS decisions(
  id INTEGER PRIMARY KEY, time TEXT NOT NULL, date TEXT NOT NULL, targets TEXT NOT NULL,
  inputs TEXT NOT NULL, reason TEXT NOT NULL, sent INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders(
  id INTEGER PRIMARY KEY, client_order_id TEXT UNIQUE NOT NULL, decision_time TEXT,
  time TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL,
  ref_price REAL, status TEXT NOT NULL, reason TEXT, request TEXT, response TEXT,
  target_qty REAL);
CREATE TABLE IF NOT EXISTS fills(
  id INTEGER PRIMARY KEY, client_order_id TEXT NOT NULL, time TEXT NOT NULL,
  symbol TEXT NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL, price REAL NOT NULL,
  fee REAL NOT NULL, fee_currency TEXT, trade_id TEXT);
CREATE TABLE IF NOT EXISTS equity(
  time TEXT PRIMARY KEY, date TEXT NOT NULL, equity REAL NOT NULL, cash REAL NOT NULL);
CREATE TABLE IF NOT EXISTS positions(
  time TEXT NOT NULL, symbol TEXT NOT NULL, qty REAL NOT NULL, price REAL NOT NULL,
  value REAL NOT NULL, PRIMARY KEY(time, symbol));
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY, time TEXT NOT NULL, level TEXT NOT NULL, kind TEXT NOT NULL,
  message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS capital_events(
  id INTEGER PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL, flow REAL NOT NULL,
  equity_before REAL NOT NULL, equity_after REAL NOT NULL, detail TEXT);
CREATE INDEX IF NOT EXISTS fills_order ON fills(client_order_id);
DROP INDEX IF EXISTS fills_trade;
CREATE UNIQUE INDEX IF NOT EXISTS fills_order_trade ON fills(client_order_id, trade_id)
  WHERE trade_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_decision ON orders(decision_time);
"""


def iso(time: pd.Timestamp) -> str:
    """ISO-8601 UTC with a Z, as every journal time is written."""
    stamp = pd.Timestamp(time)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return str(stamp.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _json(value: Any) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if hasattr(v, "item"):  # numpy scalar
            return clean(v.item())
        if isinstance(v, pd.Timestamp):
            return iso(v)
        return v

    return json.dumps(clean(value), separators=(",", ":"), sort_keys=True, default=str)


class Journal:
    """Append-only writer of one run's ``journal.sqlite``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(orders)")}
        if "target_qty" not in columns:  # a journal written before the kernel planned sizes
            self._db.execute("ALTER TABLE orders ADD COLUMN target_qty REAL")
        if "market_price" not in {r[1] for r in self._db.execute("PRAGMA table_info(fills)")}:
            self._db.execute("ALTER TABLE fills ADD COLUMN market_price REAL")
        self._db.execute("BEGIN")

    # ------------------------------------------------------------------ transactions

    def commit(self) -> None:
        """Make everything written so far durable, and open the next transaction."""
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")

    def close(self) -> None:
        """Commit and close."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._db.close()

    @contextmanager
    def committed(self) -> Iterator[Journal]:
        """``with journal.committed(): ...`` writes, then commits."""
        yield self
        self.commit()

    # ------------------------------------------------------------------ writes

    def set_meta(self, values: Mapping[str, Any]) -> None:
        """Upsert meta key/values (JSON-encoded)."""
        self._db.executemany(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [(k, _json(v)) for k, v in values.items()],
        )

    def decision(
        self, time: pd.Timestamp, date: str, targets: Mapping[str, float],
        inputs: Mapping[str, Any], reason: str, sent: bool,
    ) -> None:
        """One strategy decision with the inputs that drove it."""
        self._db.execute(
            "INSERT INTO decisions(time, date, targets, inputs, reason, sent) VALUES(?,?,?,?,?,?)",
            (iso(time), date, _json(dict(targets)), _json(dict(inputs)), reason, int(sent)),
        )

    def order(
        self, client_order_id: str, *, decision_time: pd.Timestamp | None, time: pd.Timestamp,
        symbol: str, side: str, qty: float, ref_price: float | None, status: str,
        reason: str = "", request: Any = None, response: Any = None,
        target_qty: float | None = None,
    ) -> None:
        """Record an order request (or update its status if the id is known).

        ``target_qty`` is the kernel's size before the venue's lot rounding (planned orders).
        """
        self._db.execute(
            "INSERT INTO orders(client_order_id, decision_time, time, symbol, side, qty, ref_price,"
            " status, reason, request, response, target_qty) VALUES(?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(client_order_id) DO UPDATE SET status=excluded.status, "
            "reason=excluded.reason, request=COALESCE(excluded.request, orders.request), "
            "response=COALESCE(excluded.response, orders.response)",
            (
                client_order_id, iso(decision_time) if decision_time is not None else None,
                iso(time), symbol, side, qty, ref_price, status, reason,
                _json(request) if request is not None else None,
                _json(response) if response is not None else None, target_qty,
            ),
        )

    def fill(
        self, client_order_id: str, *, time: pd.Timestamp, symbol: str, side: str,
        qty: float, price: float, fee: float, fee_currency: str, trade_id: str | None = None,
    ) -> bool:
        """One execution; one already journalled (same order, same ``trade_id``) is ignored
        (returns False). The order is part of the key because a testnet wipe restarts the
        venue's trade ids: a later fill may reuse an id, never under the same (new) order."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO fills(client_order_id, time, symbol, side, qty, price, fee,"
            " fee_currency, trade_id) VALUES(?,?,?,?,?,?,?,?,?)",
            (client_order_id, iso(time), symbol, side, qty, price, fee, fee_currency, trade_id),
        )
        return cursor.rowcount == 1

    def set_market_price(self, fill_id: int, price: float) -> None:
        """The real market's price at the moment of fill ``fill_id`` (a sandbox fill's twin)."""
        self._db.execute("UPDATE fills SET market_price = ? WHERE id = ?", (price, fill_id))

    def capital_event(self, time: pd.Timestamp, kind: str, flow: float, equity_before: float,
                      equity_after: float, detail: Mapping[str, Any]) -> None:
        """Capital that came or went without a trade (a testnet reset, a transfer): ``flow``
        in quote, the equity it turned ``equity_before`` into ``equity_after`` at ``time``."""
        self._db.execute(
            "INSERT INTO capital_events(time, kind, flow, equity_before, equity_after, detail) "
            "VALUES(?,?,?,?,?,?)",
            (iso(time), kind, flow, equity_before, equity_after, _json(dict(detail))))

    def mark(
        self, time: pd.Timestamp, date: str, cash: float,
        positions: Mapping[str, tuple[float, float]],
    ) -> float:
        """Equity and positions marked at ``time``; ``positions`` maps symbol -> (qty, price)."""
        equity = cash + sum(q * p for q, p in positions.values())
        stamp = iso(time)
        self._db.execute(
            "INSERT OR REPLACE INTO equity(time, date, equity, cash) VALUES(?,?,?,?)",
            (stamp, date, equity, cash),
        )
        self._db.execute("DELETE FROM positions WHERE time = ?", (stamp,))
        self._db.executemany(
            "INSERT INTO positions(time, symbol, qty, price, value) VALUES(?,?,?,?,?)",
            [(stamp, s, q, p, q * p) for s, (q, p) in positions.items() if q],
        )
        return equity

    def event(self, time: pd.Timestamp, level: str, kind: str, message: str) -> None:
        """A rejection, error, retry or notable fact."""
        self._db.execute(
            "INSERT INTO events(time, level, kind, message) VALUES(?,?,?,?)",
            (iso(time), level, kind, message),
        )

    # ------------------------------------------------------------------ reads

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Query the journal (the writer's own view) into rows addressable by column name."""
        cursor = self._db.execute(sql, params)
        cursor.row_factory = sqlite3.Row
        return list(cursor.fetchall())

    def capital_flows(self, by: str = "date") -> pd.Series:
        """The capital events' flows, indexed by the equity mark they belong to (its ``date``
        label, or its ``time`` with ``by="time"``); empty when there are none."""
        column = "e.date" if by == "date" else "e.time"
        rows = self.rows(f"SELECT {column} AS at, c.flow FROM capital_events c "
                         "JOIN equity e ON e.time = c.time ORDER BY c.id")
        return pd.Series([float(r["flow"]) for r in rows], index=[r["at"] for r in rows],
                         dtype="float64")

    def frame(self, sql: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
        """Query the journal into a DataFrame (the writer's own view)."""
        return pd.read_sql_query(sql, self._db, params=params)
