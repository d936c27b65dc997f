"""A sweep folder's streamed tables: ``results.csv`` rows and the configs' daily returns.

Rows are appended as results arrive (each flushed whole), so an interrupted sweep leaves a
valid partial ``results.csv``; :func:`finish_results` sorts it by (fold, config) at the end,
so a resumed sweep's file is identical to an uninterrupted one's. Daily returns go to
``returns.bin`` (float64 records ``[config, r1..rT]``, appended) and are reordered into
``returns.npy`` at the end: memory stays flat in the number of configs while the sweep runs.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

import numpy as np

from papertrade.runfolder.layout import RESULTS

RETURNS_BIN: Final = "returns.bin"
RETURNS_NPY: Final = "returns.npy"
RETURNS_DATES: Final = "returns_dates.csv"
#: metrics that are better when lower (every other one is maximised)
LOWER_IS_BETTER: Final = frozenset({"volatility", "max_drawdown_duration_days", "fees",
                                    "turnover", "traded_notional", "rejected_orders",
                                    "rail_cuts"})
#: metrics.json keys the backtest exports beside :func:`papertrade.metrics.summary`'s
EXPORT_KEYS: Final = ("rebalances", "rejected_orders", "rail_cuts", "kill_switch")
__all__ = ["RESULTS", "ResultsWriter", "ReturnsWriter", "done_keys", "finish_results", "flatten",
           "metric_names", "number", "read_rows", "returns_matrix"]


def metric_names() -> list[str]:
    """Every scalar metric name of ``metrics.json`` (what ``--objective`` accepts)."""
    import pandas as pd

    from papertrade.metrics import summary

    empty = pd.Series([], dtype=float, index=pd.DatetimeIndex([]))
    fills = pd.DataFrame(columns=["symbol", "side", "qty", "price", "fee"])
    keys = [k for k, v in summary(empty, fills, empty, {}).items() if k != "benchmarks"]
    return [*keys, *EXPORT_KEYS]


def flatten(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """metrics.json as one level: ``benchmarks.<name>.<key>`` for the nested benchmarks."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            for name, inner in flatten(value).items():
                out[f"{key}.{name}"] = inner
        else:
            out[key] = value
    return out


def cell(value: Any) -> str:
    """A value as results.csv writes it (``repr`` of floats round-trips exactly)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def number(text: str) -> float | None:
    """A results.csv cell as a float, None when empty or not a number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class ResultsWriter:
    """Appends rows to ``results.csv``; the header is fixed by the first row (or the file)."""

    def __init__(self, path: Path, lead: Sequence[str]) -> None:
        self.path = path
        self.lead = list(lead)
        self.header: list[str] | None = None
        self._handle: TextIO | None = None
        if path.exists() and path.stat().st_size:
            with path.open(newline="") as handle:
                self.header = next(csv.reader(handle), None)

    def _open(self, metrics: Iterable[str]) -> csv.DictWriter[str]:
        if self._handle is None:
            fresh = self.header is None
            if fresh:
                names = [m for m in metrics if m not in self.lead]
                extra = [k for k in (*EXPORT_KEYS, "error") if k not in names]
                self.header = [*self.lead, *names, *extra]
            self._handle = self.path.open("a", newline="", encoding="utf-8")
            writer = csv.DictWriter(self._handle, self.header or [], extrasaction="ignore")
            if fresh:
                writer.writeheader()
            self._writer = writer
        return self._writer

    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write ``rows`` (lead columns + flat metrics) and flush them to disk."""
        if not rows:
            return
        writer = self._open(rows[0].keys())
        writer.writerows({k: cell(v) for k, v in row.items()} for row in rows)
        assert self._handle is not None
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Close the file (rows are already on disk)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_rows(path: Path) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The header and the complete rows of a results.csv (a torn last line is skipped)."""
    handle = path.open(newline="", encoding="utf-8")
    reader = csv.reader(handle)
    header = next(reader, None) or []

    def rows() -> Iterator[dict[str, str]]:
        with handle:
            for row in reader:
                if len(row) == len(header):
                    yield dict(zip(header, row, strict=True))

    return header, rows()


def done_keys(path: Path) -> set[tuple[int, int]]:
    """(fold, config) of the rows already in results.csv; a torn last line is cut off."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # an interrupted write: keep whole lines only
        path.write_bytes(data[: data.rfind(b"\n") + 1])
    _, rows = read_rows(path)
    return {(int(r.get("fold") or 0), int(r["config"])) for r in rows}


def finish_results(path: Path, lead: Sequence[str]) -> int:
    """Sort results.csv by (fold, config), keeping the last of duplicate rows; returns the
    number of rows. Written through a temp file and a rename."""
    header, rows = read_rows(path)
    by_key = {(int(r.get("fold") or 0), int(r["config"])): r for r in rows}
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(by_key[k] for k in sorted(by_key))
    os.replace(tmp, path)
    return len(by_key)


class ReturnsWriter:
    """Appends each config's per-bar returns as float64 records ``[config, r1..rT]``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.width: int | None = None
        dates = folder / RETURNS_DATES
        if dates.exists():
            self.width = len(dates.read_text().split())  # 'date' + T dates = T + 1

    def append(self, config: int, dates: Sequence[str], returns: np.ndarray) -> bool:
        """Store one config's returns; False (nothing stored) if its clock differs."""
        if self.width is None:
            (self.folder / RETURNS_DATES).write_text("date\n" + "\n".join(dates) + "\n")
            self.width = len(dates) + 1
        if len(returns) + 1 != self.width:
            return False
        record = np.concatenate([[float(config)], returns.astype(np.float64)])
        with (self.folder / RETURNS_BIN).open("ab") as handle:
            handle.write(record.tobytes())
        return True


def returns_matrix(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """(dates, config numbers, T x N returns) from the records, sorted by config, the last
    record of a config kept; also saved as ``returns.npy`` (configs in row 0)."""
    dates_file, records_file = folder / RETURNS_DATES, folder / RETURNS_BIN
    if not dates_file.exists() or not records_file.exists():
        return None
    dates = dates_file.read_text().split()[1:]
    width = len(dates) + 1
    raw = np.fromfile(records_file, dtype=np.float64)
    raw = raw[: len(raw) // width * width].reshape(-1, width)
    last = {int(config): i for i, config in enumerate(raw[:, 0])}
    order = [last[c] for c in sorted(last)]
    configs = np.array(sorted(last), dtype=np.int64)
    matrix = raw[order, 1:].T.copy()
    np.save(folder / RETURNS_NPY, np.vstack([configs.astype(np.float64), matrix]))
    return dates, configs, matrix
