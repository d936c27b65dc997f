"""Everything ``runs show`` and the report tell about one run besides charts (stdlib only).

Positions, decisions, fills and problems come from the journal (the system of record); when
it is missing (older or cut-short runs) the CSVs stand in, and the notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papertrade.report.formatting import is_number
from papertrade.report.journal import JournalReader, decode_json
from papertrade.runfolder import (
    CsvTable,
    RunHeader,
    missing_files,
    read_csv,
    read_header,
    unreadable_files,
)


@dataclass
class RunDetails:
    """One run, ready to be shown; lists are newest first."""

    header: RunHeader
    notes: list[str] = field(default_factory=list)
    positions_time: str = ""
    positions_source: str = ""
    positions: list[dict[str, Any]] = field(default_factory=list)
    decisions_source: str = ""
    decisions: list[dict[str, Any]] = field(default_factory=list)
    decisions_total: int | None = None
    trades: list[dict[str, Any]] = field(default_factory=list)
    trades_total: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)


def collect(path: Path, *, decisions: int = 10, trades: int = 10,
            problems: int = 20) -> RunDetails:
    """Read what there is in the run folder at ``path``; anything absent becomes a note."""
    header = read_header(path)
    details = RunDetails(header)
    notes = details.notes
    if header.status == "broken":
        notes.append(f"broken: {header.reason}")
    elif header.status == "crashed":
        notes.append(f"crashed: manifest says running but {header.reason}")
    elif header.status == "failed" and header.reason:
        notes.append(f"failed: {header.reason}")
    notes.extend(header.notes)
    notes.extend(missing_files(header))
    notes.extend(unreadable_files(header))
    journal = JournalReader(path / "journal.sqlite")
    _positions(details, journal)
    _decisions(details, journal, decisions)
    _trades(details, journal, trades)
    details.problems = journal.problems(problems)
    notes.extend(capital_notes(journal))
    notes.extend(journal.notes)
    return details


def capital_notes(journal: JournalReader) -> list[str]:
    """One note per capital event: a testnet reset (or a transfer) is marked, not traded."""
    notes = []
    for event in journal.capital_events():
        what = "testnet reset" if event["kind"] == "reset" else str(event["kind"])
        notes.append(f"{what} at {event['time']}: balances moved by {event['flow']:+,.2f} "
                     f"without a trade (equity {event['equity_before']:,.2f} -> "
                     f"{event['equity_after']:,.2f}); returns and drawdown continue "
                     "time-weighted across it")
    return notes


def _positions(details: RunDetails, journal: JournalReader) -> None:
    when, rows = journal.latest_positions()
    equity = journal.latest_equity()
    marked = str(equity.get("time", "")) if equity else ""
    if rows or equity is not None:
        if marked > when:  # marked after the last snapshot holding anything: flat since
            rows, when = [], marked
        total = float(equity["equity"]) if equity and is_number(equity.get("equity")) else None
        for row in rows:
            row["weight"] = float(row["value"]) / total if total else None
        if equity and is_number(equity.get("cash")):
            rows.append({"symbol": "cash", "qty": None, "price": None,
                         "value": float(equity["cash"]),
                         "weight": float(equity["cash"]) / total if total else None})
        details.positions, details.positions_time = rows, when
        details.positions_source = "journal"
        return
    weights = read_csv(details.header.path / "weights.csv")
    if weights.rows:
        last = weights.dicts()[-1]
        details.positions_time = last.get("date", "")
        details.positions_source = "weights.csv (target weights of the last rebalance)"
        held = [(s, _float(v)) for s, v in last.items() if s != "date"]
        details.positions = [
            {"symbol": s, "qty": None, "price": None, "value": None, "weight": w}
            for s, w in held if w
        ]
        invested = sum(w for _, w in held if w is not None)
        details.positions.append({"symbol": "cash", "qty": None, "price": None,
                                  "value": None, "weight": 1 - invested})


def _decisions(details: RunDetails, journal: JournalReader, limit: int) -> None:
    rows = journal.select(
        "decisions",
        "SELECT * FROM decisions WHERE sent = 1 OR id = (SELECT MAX(id) FROM decisions) "
        "ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    if rows:
        for row in rows:
            row["targets"] = decode_json(row.get("targets"))
            row["inputs"] = decode_json(row.get("inputs"))
        details.decisions = rows
        details.decisions_total = journal.count("decisions")
        details.decisions_source = "journal"
        return
    signals = read_csv(details.header.path / "signals.csv")
    if "event" not in signals.header:
        return
    events = [row for row in signals.dicts() if row.get("event")]
    for row in reversed(events[-limit:]):
        inputs = {k: _float(v) if _float(v) is not None else v
                  for k, v in row.items() if k not in ("date", "event")}
        reason = ", ".join(f"{k} {v}" for k, v in row.items() if k not in ("date", "event"))
        details.decisions.append({"time": "", "date": row.get("date", ""), "targets": None,
                                  "inputs": inputs, "reason": f"{reason} -> {row['event']}",
                                  "sent": 1})
    details.decisions_total = len(events)
    details.decisions_source = "signals.csv (no journal: events only)"


_TRADE_COLUMNS = ("time", "date", "symbol", "side", "qty", "price", "notional", "fee",
                  "fee_currency", "client_order_id")


def trades_table(path: Path, journal: JournalReader | None = None
                 ) -> tuple[list[dict[str, Any]], str]:
    """All fills oldest first, from trades.csv or else the journal: (rows, source)."""
    table: CsvTable = read_csv(path / "trades.csv")
    if table.header and {"symbol", "side", "qty", "price"} <= set(table.header):
        rows: list[dict[str, Any]] = []
        for raw in table.dicts():
            row: dict[str, Any] = dict(raw)
            for key in ("qty", "price", "notional", "fee"):
                row[key] = _float(raw.get(key))
            rows.append(row)
        return rows, "trades.csv"
    journal = journal or JournalReader(path / "journal.sqlite")
    fills = journal.fills()
    for fill in fills:
        qty, price = _float(fill.get("qty")), _float(fill.get("price"))
        fill["notional"] = qty * price if qty is not None and price is not None else None
        fill["date"] = str(fill.get("time", ""))[:10]
    return fills, "journal" if fills else ""


def _trades(details: RunDetails, journal: JournalReader, limit: int) -> None:
    rows, _ = trades_table(details.header.path, journal)
    details.trades_total = len(rows)
    details.trades = list(reversed(rows[-limit:])) if limit else []


def _float(value: Any) -> float | None:
    if is_number(value):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            return None
    return None


def read_details(path: Path) -> RunDetails:
    """Shorthand used by the report: generous limits for the HTML tables."""
    return collect(path, decisions=25, trades=0, problems=50)
