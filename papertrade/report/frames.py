"""The run's time series as pandas objects, for the charts (imported only by the report).

Backtests are read from their CSVs; a running live run from its journal (fresher than CSVs
rewritten after each decision); each falls back on the other, and the notes say what is
missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from papertrade.report.journal import JournalReader
from papertrade.runfolder import RunHeader, read_csv


@dataclass
class RunFrames:
    """Series indexed by bar date; ``None`` where the run folder has nothing to show."""

    equity: pd.Series | None = None
    equity_source: str = ""
    benchmarks: pd.DataFrame | None = None
    weights: pd.DataFrame | None = None
    weights_source: str = ""
    signals: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _csv_frame(path: Path, notes: list[str]) -> pd.DataFrame | None:
    """A run CSV with a parsed ``date`` index and numeric columns where they parse."""
    table = read_csv(path)
    if table.problem and not table.problem.endswith("missing"):
        notes.append(table.problem)
    if not table.rows or "date" not in table.header:
        if table.header and "date" not in table.header:
            notes.append(f"{path.name} has no 'date' column")
        return None
    frame = pd.DataFrame(table.rows, columns=table.header)
    dates = pd.to_datetime(frame.pop("date"), errors="coerce", format="%Y-%m-%d")
    frame.index = pd.DatetimeIndex(dates, name="date")
    frame = frame[frame.index.notna()]
    for column in frame.columns:
        if column == "event":
            frame[column] = frame[column].fillna("").astype(str)
            continue
        numeric = pd.to_numeric(frame[column], errors="coerce")
        if numeric.notna().any() or (frame[column] == "").all():
            frame[column] = numeric
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return frame if len(frame) else None


def _equity_from_journal(journal: JournalReader) -> pd.Series | None:
    rows = journal.equity()
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    frame["date"] = pd.to_datetime(frame["date"], errors="coerce", format="%Y-%m-%d")
    frame = frame.dropna(subset=["date"]).drop_duplicates("date", keep="last")
    series = pd.Series(frame["equity"].astype(float).to_numpy(),
                       index=pd.DatetimeIndex(frame["date"], name="date"), name="equity")
    return series.sort_index() if len(series) else None


def _weights_from_journal(journal: JournalReader, equity: pd.Series | None) -> pd.DataFrame | None:
    rows = journal.select("positions", "SELECT time, symbol, value FROM positions")
    eq_rows = journal.equity()
    if not rows or not eq_rows:
        return None
    values = pd.DataFrame(rows).pivot_table(index="time", columns="symbol", values="value",
                                            aggfunc="last")
    totals = pd.DataFrame(eq_rows).set_index("time")
    weights = values.reindex(totals.index).fillna(0.0).div(totals["equity"], axis=0)
    weights.index = pd.DatetimeIndex(pd.to_datetime(totals["date"], format="%Y-%m-%d"),
                                     name="date")
    return weights[~weights.index.duplicated(keep="last")]


def load_frames(header: RunHeader, journal: JournalReader | None = None) -> RunFrames:
    """Equity, benchmarks, allocation and signals of a run, with notes on what is missing."""
    path = header.path
    journal = journal or JournalReader(path / "journal.sqlite")
    out = RunFrames()
    notes = out.notes
    from_journal = _equity_from_journal(journal) if header.is_live else None
    if from_journal is not None:
        out.equity, out.equity_source = from_journal, "journal"
    else:
        frame = _csv_frame(path / "equity.csv", notes)
        if frame is not None and "equity" in frame:
            out.equity = frame["equity"].astype(float).dropna()
            out.equity_source = "equity.csv"
        else:
            out.equity = _equity_from_journal(journal)
            out.equity_source = "journal" if out.equity is not None else ""
    if out.equity is not None and out.equity.empty:
        out.equity = None
    bench = _csv_frame(path / "benchmarks.csv", notes)
    if bench is not None:
        out.benchmarks = bench.select_dtypes("number")
    weights = _csv_frame(path / "weights.csv", notes)
    if weights is not None and out.equity is not None:
        weights = weights.select_dtypes("number").fillna(0.0)
        clock = out.equity.index.union(weights.index)
        out.weights = weights.reindex(clock).ffill().fillna(0.0).reindex(out.equity.index)
        out.weights_source = "weights.csv (targets of each rebalance sent)"
    elif out.equity is not None:
        out.weights = _weights_from_journal(journal, out.equity)
        out.weights_source = "journal positions" if out.weights is not None else ""
    out.signals = _csv_frame(path / "signals.csv", notes)
    notes.extend(n for n in journal.notes if n not in notes)
    return out


def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Year x month table of returns (fractions); the first month against the first mark."""
    month_end = equity.resample("ME").last().dropna()
    stamps = pd.DatetimeIndex(month_end.index)
    previous = month_end.shift(1)
    previous.iloc[0] = equity.iloc[0]
    returns = month_end / previous - 1
    table = pd.DataFrame({"year": stamps.year, "month": stamps.month,
                          "ret": returns.to_numpy()})
    return table.pivot(index="year", columns="month", values="ret").reindex(
        columns=range(1, 13)
    )


def drawdown(equity: pd.Series) -> pd.Series:
    """Fractional distance below the running peak (0 at a new high)."""
    return equity / equity.cummax() - 1
