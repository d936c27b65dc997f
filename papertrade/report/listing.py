"""``runs list``: scan a runs folder, filter and sort (manifest.json + metrics.json only).

Standard library only; 500 folders take a few milliseconds to read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from papertrade.errors import RunFolderError
from papertrade.report.formatting import is_number
from papertrade.runfolder import MODES, STATUSES, RunHeader, read_header, run_dirs
from papertrade.util.text import did_you_mean, one_line

#: --sort keys -> (value getter, larger is better); missing values always sort last
SORT_KEYS: Final[dict[str, tuple[Callable[[RunHeader], Any], bool]]] = {
    "created": (lambda h: h.created.timestamp() if h.created else None, True),
    "return": (lambda h: _num(h.metric("total_return")), True),
    "cagr": (lambda h: _num(h.metric("cagr")), True),
    "sharpe": (lambda h: _num(h.metric("sharpe")), True),
    "drawdown": (lambda h: _num(h.metric("max_drawdown")), True),
    "trades": (lambda h: _num(h.metric("trades")), True),
    "name": (lambda h: h.name or None, False),
    "id": (lambda h: h.run_id, False),
}


def _num(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def scan(runs_dir: Path) -> list[RunHeader]:
    """Every run folder of ``runs_dir`` (broken ones included), in folder-name order."""
    return [read_header(path) for path in run_dirs(runs_dir)]


_RELATIVE = re.compile(r"^(\d+)\s*([hdw])$")


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``2026-11-01``, ``2026-11-01T12:00``, or a relative ``12h`` / ``7d`` / ``2w``."""
    now = now or dt.datetime.now(dt.UTC)
    match = _RELATIVE.match(text.strip().lower())
    if match and len(match.group(1)) <= 6:
        amount, unit = int(match.group(1)), match.group(2)
        hours = {"h": 1, "d": 24, "w": 24 * 7}[unit] * amount
        try:
            return now - dt.timedelta(hours=hours)
        except OverflowError:  # before year 1: every run is newer
            return dt.datetime.min.replace(tzinfo=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RunFolderError(
            f"--since '{one_line(text, 40)}' is not a date; write e.g. 2026-11-01, 7d or 12h"
        ) from None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


def _check_choice(option: str, value: str, choices: Iterable[str]) -> None:
    options = list(choices)
    if value not in options:
        hint = did_you_mean(value[:100], options)
        raise RunFolderError(f"{option} '{one_line(value, 40)}' is unknown; "
                             + (f"{hint} " if hint else "") + "use one of: " + ", ".join(options))


def select(
    headers: list[RunHeader],
    *,
    mode: str | None = None,
    strategy: str | None = None,
    since: str | None = None,
    status: str | None = None,
) -> list[RunHeader]:
    """Filter runs; ``strategy`` matches the strategy or the config name (substring)."""
    if mode:
        _check_choice("--mode", mode, (*MODES, "live"))
    if status:
        _check_choice("--status", status, STATUSES)
    cutoff = parse_since(since) if since else None
    needle = strategy.lower() if strategy else ""
    out: list[RunHeader] = []
    for header in headers:
        if mode == "live" and not header.is_live:
            continue
        if mode and mode != "live" and header.mode != mode:
            continue
        if status and header.status != status:
            continue
        if needle and needle not in header.text("strategy").lower() \
                and needle not in header.name.lower():
            continue
        if cutoff is not None:
            created = header.created
            if created is None or created < cutoff:
                continue
        out.append(header)
    return out


def order(headers: list[RunHeader], key: str = "created", reverse: bool = False) -> list[RunHeader]:
    """Best (or newest) first; runs lacking the value last; ``reverse`` flips the order."""
    _check_choice("--sort", key, SORT_KEYS)
    getter, larger_first = SORT_KEYS[key]
    present = [h for h in headers if getter(h) is not None]
    absent = [h for h in headers if getter(h) is None]
    present.sort(key=lambda h: (getter(h), h.run_id), reverse=larger_first != reverse)
    return present + sorted(absent, key=lambda h: h.run_id)
