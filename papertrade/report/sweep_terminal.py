"""A sweep folder on the terminal: ``papertrade sweep``'s closing summary and ``runs show``.

Reads the folder only (results.csv, grid.json, manifest, folds.csv, overfitting.json).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Final

import typer

from papertrade.runfolder import read_csv, read_header, read_json
from papertrade.runfolder.layout import FOLDS, GRID, OVERFITTING, RESULTS

TOP: Final = 5
SHOWN_METRICS: Final = ("total_return", "cagr", "sharpe", "max_drawdown", "trades")


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def sweep_view(folder: Path, top: int = TOP) -> dict[str, Any]:
    """What a sweep folder says: keys, counts, the top rows and their replay commands."""
    header = read_header(folder)
    grid, _ = read_json(folder / GRID)
    grid = grid if isinstance(grid, dict) else {}
    keys = [str(a.get("key")) for a in grid.get("axes", []) if isinstance(a, dict)]
    objective = str(header.get("objective") or "sharpe")
    table = read_csv(folder / RESULTS)
    rows = [] if "fold" in table.header else table.dicts()
    lower = objective in ("volatility", "max_drawdown_duration_days", "fees", "turnover")
    scored = [(v, r) for r in rows if (v := _float(r.get(objective, ""))) is not None]
    scored.sort(key=lambda pair: (pair[0] if lower else -pair[0], int(pair[1]["config"])))
    prefix = str(grid.get("replay") or "papertrade backtest CONFIG")
    best = [{**r, "replay": prefix + "".join(f" --set {shlex.quote(f'{k}={r[k]}')}"
                                             for k in keys)} for _, r in scored[:top]]
    folds = read_csv(folder / FOLDS).dicts() if (folder / FOLDS).exists() else []
    over, _ = read_json(folder / OVERFITTING)
    return {"header": header, "keys": keys, "objective": objective, "rows": len(table.rows),
            "best": best, "folds": folds, "overfitting": over if isinstance(over, dict) else {},
            "problem": table.problem}


def _fmt(text: Any) -> str:
    value = _float(text)
    if value is None:
        return str(text or "n/a")
    return f"{value:.4g}" if not float(value).is_integer() else f"{int(value)}"


def sweep_lines(folder: Path, top: int = TOP) -> list[str]:
    """The sweep as plain text lines."""
    view = sweep_view(folder, top)
    h = view["header"]
    counts = h.get("counts") or {}
    lines = [f"sweep {h.run_id} [{h.status}] {h.text('name')} engine {h.text('engine')}",
             f"grid: {', '.join(view['keys'])}; {view['rows']} rows of "
             f"{counts.get('total', '?')} ({counts.get('failed', 0)} failed); "
             f"objective {view['objective']}"]
    if h.reason:
        lines.append(f"note: {h.reason}")
    for rank, row in enumerate(view["best"], 1):
        values = "  ".join(f"{k}={row.get(k, '')}" for k in view["keys"])
        figures = "  ".join(f"{m} {_fmt(row.get(m))}" for m in SHOWN_METRICS)
        lines.append(f"#{rank} config {row['config']}: {values} | {figures}")
        lines.append(f"    replay: {row['replay']}")
    for fold in view["folds"]:
        if not fold.get("config"):
            lines.append(f"fold {fold.get('fold')}: train {fold.get('train_start')}.."
                         f"{fold.get('train_end')}: {fold.get('error') or 'no config chosen'}; "
                         "the capital waits in cash")
            continue
        lines.append(
            f"fold {fold.get('fold')}: train {fold.get('train_start')}..{fold.get('train_end')} "
            f"test {fold.get('test_start')}..{fold.get('test_end')} config {fold.get('config')} "
            f"({fold.get('sets')}) IS {view['objective']} "
            f"{_fmt(fold.get('is_' + view['objective']))} OOS "
            f"{_fmt(fold.get('oos_' + view['objective']))}")
    metrics = h.metrics or {}
    if metrics.get("out_of_sample"):
        lines.append(f"out of sample (stitched): return {_fmt(metrics.get('total_return'))} "
                     f"sharpe {_fmt(metrics.get('sharpe'))} "
                     f"max drawdown {_fmt(metrics.get('max_drawdown'))}")
    over = view["overfitting"]
    if over:
        shown = {k: v for k, v in over.items() if not isinstance(v, dict | list)}
        lines.append("overfitting: " + ", ".join(f"{k} {_fmt(v)}" for k, v in shown.items()))
    lines.append(f"sweep folder: {folder}")
    return lines


def print_sweep_summary(folder: Path) -> None:
    """``papertrade sweep``'s closing lines."""
    for line in sweep_lines(folder):
        typer.echo(line)
