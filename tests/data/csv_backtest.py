"""Backtests of the shipped BTC-only flagship variant with some symbols read from CSV files.

Used by the data-layer regression tests and the malformed-CSV corpus: the CSVs are written into
the test's ``tmp_path``, the config is the real ``configs/rut_breakout_btc_only.yaml`` with its
``data`` section pointed at them, and the run goes through ``papertrade.cli.main``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from papertrade.data.bars import bundled_file

ROOT = Path(__file__).resolve().parents[2]
BTC_ONLY = ROOT / "configs" / "rut_breakout_btc_only.yaml"


def raw_rows(symbol: str, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """The bundled CSV of ``symbol`` as text cells (rows with ``start <= date <= end``)."""
    frame = pd.read_csv(bundled_file(symbol), dtype=str)
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= frame["date"] >= start
    if end is not None:
        keep &= frame["date"] <= end
    return frame.loc[keep].reset_index(drop=True)


def write_rows(path: Path, frame: pd.DataFrame) -> Path:
    """Write text rows as a CSV file (no index)."""
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def btc_only_config(tmp: Path, *, csv: dict[str, Path], start: str, end: str | None,
                    name: str = "btc-only.yaml") -> Path:
    """The shipped BTC-only config reading ``csv`` (symbol -> file), runs under tmp/runs."""
    config: dict[str, Any] = yaml.safe_load(BTC_ONLY.read_text())
    config["runs_dir"] = str(tmp / "runs")
    config["data"] = {
        "start": start,
        "end": end,
        "symbols": {symbol: {"source": "csv", "path": str(path)} for symbol, path in csv.items()},
    }
    (tmp / "runs").mkdir(exist_ok=True)
    path = tmp / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_folders(tmp: Path) -> list[Path]:
    """Run folders written under tmp/runs, oldest first."""
    runs = tmp / "runs"
    return sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []


def manifest(folder: Path) -> dict[str, Any]:
    """A run folder's manifest.json."""
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return data
