"""Reading one run folder (docs/run-folder.md, format 1), tolerant of anything missing.

Standard library only: ``runs list`` reads 500 folders through this module without pandas.
Nothing here writes into a run folder; the journal is read through :mod:`.journal`.

Status of a run:

- ``finished`` / ``failed``: as the manifest says (a finished run must have ``metrics.json``);
- ``running``: the manifest says running and its ``pid`` is alive (and not a reused pid);
- ``crashed``: the manifest says running but the ``pid`` is gone;
- ``broken``: the manifest is missing/unparseable/of an unknown format, or the folder is
  unreadable: ``reason`` says which.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from papertrade.errors import RunFolderError

FORMAT: Final = 1
MODES: Final = ("backtest", "testnet", "dry_run", "emulator")
STATUSES: Final = ("finished", "running", "crashed", "failed", "broken")
#: files a run writes at its start; the others appear at the end (live: as it goes)
START_FILES: Final = ("manifest.json", "config.yaml", "run.log", "journal.sqlite")
END_FILES: Final = (
    "equity.csv", "benchmarks.csv", "weights.csv", "trades.csv", "signals.csv", "metrics.json"
)
_PID_SLACK_S: Final = 60.0


@dataclass(frozen=True)
class RunHeader:
    """What ``runs list`` knows of a run: its manifest, metrics and derived status."""

    path: Path
    manifest: dict[str, Any] | None
    metrics: dict[str, Any] | None
    status: str
    reason: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def run_id(self) -> str:
        """The folder name (what the CLI accepts), not the manifest's copy of it."""
        return self.path.name

    def get(self, key: str) -> Any:
        """A manifest value, ``None`` if absent or the manifest is unreadable."""
        return (self.manifest or {}).get(key)

    def text(self, key: str) -> str:
        """A manifest value as text ('' if absent)."""
        value = self.get(key)
        return "" if value is None else str(value)

    def metric(self, key: str) -> Any:
        """A metrics.json value, ``None`` if absent."""
        return (self.metrics or {}).get(key)

    @property
    def mode(self) -> str:
        return self.text("mode") or _name_part(self.path.name, -2)

    @property
    def name(self) -> str:
        return self.text("name")

    @property
    def quote(self) -> str:
        return self.text("quote")

    @property
    def created(self) -> dt.datetime | None:
        """``created_at`` of the manifest, else the timestamp leading the folder name."""
        return parse_time(self.get("created_at")) or parse_time(self.path.name.split("-")[0])

    @property
    def period(self) -> tuple[str, str]:
        """(start, end) actually covered (metrics) or requested (manifest)."""
        start = self.metric("start") or self.get("start") or ""
        end = self.metric("end") or self.get("end") or ""
        return str(start), str(end)

    @property
    def is_live(self) -> bool:
        return self.mode not in ("backtest", "")


def _name_part(name: str, index: int) -> str:
    parts = name.split("-")
    return parts[index] if len(parts) >= 4 else ""


def parse_time(value: Any) -> dt.datetime | None:
    """ISO-8601 (``2026-11-21T10:15:00Z``) or compact (``20261121T101500Z``) -> aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    for fmt in ("%Y%m%dT%H%M%SZ", "%Y%m%dT%H%M%S"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def read_json(path: Path) -> tuple[Any, str]:
    """(value, problem): problem is '' when the file was read and parsed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, f"{path.name} missing"
    except OSError as exc:
        return None, f"{path.name} unreadable ({exc.strerror or exc})"
    if not raw.strip():
        return None, f"{path.name} is empty (half-written?)"
    try:
        return json.loads(raw), ""
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return None, f"{path.name} is not valid JSON ({where}): half-written or corrupted"
    except UnicodeDecodeError:
        return None, f"{path.name} is not UTF-8 text: corrupted"


# --------------------------------------------------------------------------- process checks


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


_BOOT: list[float | None] = []


def _process_info(pid: int) -> tuple[str, float | None] | None:
    """(state, start time as epoch seconds) from /proc, ``None`` where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except FileNotFoundError:
        return ("gone", None)
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    if not _BOOT:
        _BOOT.append(_boot_time())
    boot = _BOOT[0]
    started = None if boot is None else boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return fields[0], started


def pid_alive(pid: Any, created_at: dt.datetime | None = None) -> bool:
    """Whether ``pid`` is a live process that could be the run's writer.

    Zombies count as dead, and so does a process started well after the run was created
    (the pid was reused by an unrelated process after the writer died).
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    except OSError:
        return False
    info = _process_info(pid)
    if info is None:
        return True
    state, started = info
    if state in ("gone", "Z", "X"):
        return False
    return not (
        started is not None
        and created_at is not None
        and started > created_at.timestamp() + _PID_SLACK_S
    )


# --------------------------------------------------------------------------- the header


def read_header(path: Path) -> RunHeader:
    """Manifest + metrics + status of the folder at ``path``; never raises for bad content."""
    try:
        if not path.is_dir():
            why = "symlink to a missing folder" if path.is_symlink() else "not a folder"
            return RunHeader(path, None, None, "broken", why)
        os.listdir(path)
    except OSError as exc:
        return RunHeader(path, None, None, "broken", f"folder unreadable ({exc.strerror or exc})")
    manifest, problem = read_json(path / "manifest.json")
    metrics_raw, metrics_problem = read_json(path / "metrics.json")
    metrics = metrics_raw if isinstance(metrics_raw, dict) else None
    if metrics_raw is not None and metrics is None:
        metrics_problem = "metrics.json is not a JSON object"
    if problem:
        return RunHeader(path, None, metrics, "broken", problem)
    if not isinstance(manifest, dict):
        return RunHeader(path, None, metrics, "broken", "manifest.json is not a JSON object")
    notes: list[str] = []
    fmt = manifest.get("format")
    if fmt is None:
        notes.append("manifest has no 'format': written by an older papertrade")
    elif not isinstance(fmt, int) or isinstance(fmt, bool):
        return RunHeader(path, manifest, metrics, "broken", f"manifest format {fmt!r} unknown")
    elif fmt > FORMAT:
        return RunHeader(
            path, manifest, metrics, "broken",
            f"run folder format {fmt} is newer than this papertrade reads ({FORMAT}); "
            "upgrade papertrade",
        )
    declared = manifest.get("status")
    if declared == "finished":
        if metrics is None:
            return RunHeader(
                path, manifest, None, "broken", f"finished, but {metrics_problem}", tuple(notes)
            )
        return RunHeader(path, manifest, metrics, "finished", "", tuple(notes))
    if metrics_problem and not metrics_problem.endswith("missing"):
        notes.append(metrics_problem)
    if declared == "failed":
        error = manifest.get("error")
        return RunHeader(path, manifest, metrics, "failed", str(error or ""), tuple(notes))
    if declared == "running":
        pid = manifest.get("pid")
        created = parse_time(manifest.get("created_at"))
        if pid_alive(pid, created):
            return RunHeader(path, manifest, metrics, "running", "", tuple(notes))
        why = f"pid {pid} is not alive" if pid is not None else "the manifest has no pid"
        return RunHeader(path, manifest, metrics, "crashed", why, tuple(notes))
    return RunHeader(
        path, manifest, metrics, "broken", f"manifest status {declared!r} unknown", tuple(notes)
    )


def missing_files(header: RunHeader) -> list[str]:
    """One note per expected file that is absent, saying why it probably is."""
    notes: list[str] = []
    try:
        present = set(os.listdir(header.path))
    except OSError:
        return notes
    for name in (*START_FILES, *END_FILES):
        if name in present:
            continue
        if name in END_FILES and header.status == "running":
            why = "not written yet: the run is still running"
        elif header.status in ("crashed", "failed") and name in END_FILES:
            why = f"the run {header.status} before writing it"
        elif header.status == "broken":
            why = "the folder is broken"
        elif "format" not in (header.manifest or {}):
            why = "written by an older papertrade"
        else:
            why = "not written or deleted"
        notes.append(f"{name} missing ({why})")
    return notes


# --------------------------------------------------------------------------- CSV tables


@dataclass(frozen=True)
class CsvTable:
    """A CSV file as text rows; ``problem`` says what was skipped or why it is empty."""

    header: list[str]
    rows: list[list[str]]
    problem: str = ""

    def dicts(self) -> list[dict[str, str]]:
        return [dict(zip(self.header, row, strict=True)) for row in self.rows]


def read_csv(path: Path) -> CsvTable:
    """Read a run CSV; rows of the wrong width (a live writer mid-line) are skipped."""
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            lines = list(csv.reader(handle))
    except FileNotFoundError:
        return CsvTable([], [], f"{path.name} missing")
    except (OSError, csv.Error) as exc:
        return CsvTable([], [], f"{path.name} unreadable ({exc})")
    if not lines or not lines[0]:
        return CsvTable([], [], f"{path.name} is empty")
    header, body = lines[0], lines[1:]
    rows = [row for row in body if len(row) == len(header)]
    skipped = len(body) - len(rows)
    problem = f"{path.name}: {skipped} malformed row(s) skipped" if skipped else ""
    return CsvTable(header, rows, problem)


# --------------------------------------------------------------------------- finding runs


def run_dirs(runs_dir: Path) -> list[Path]:
    """Candidate run folders in ``runs_dir`` (``.hidden`` and ``_assets``-like names skipped)."""
    try:
        entries = list(os.scandir(runs_dir))
    except FileNotFoundError:
        raise RunFolderError(
            f"runs folder '{runs_dir}' does not exist; pass --runs-dir or run a backtest first"
        ) from None
    except NotADirectoryError:
        raise RunFolderError(f"'{runs_dir}' is not a folder; pass --runs-dir DIR") from None
    except OSError as exc:
        raise RunFolderError(f"cannot read runs folder '{runs_dir}': {exc.strerror}") from None
    out: list[Path] = []
    for entry in entries:
        if entry.name.startswith((".", "_")):
            continue
        try:
            if entry.is_dir() or entry.is_symlink():
                out.append(Path(entry.path))
        except OSError:
            out.append(Path(entry.path))
    return sorted(out, key=lambda p: p.name)


def resolve_run(spec: str, runs_dir: Path) -> Path:
    """A run folder from a path, a run id, a unique prefix (else part) of one, or ``latest``."""
    as_path = Path(spec).expanduser()
    looks_like_path = os.sep in spec or spec.startswith(".") or as_path.is_absolute()
    if as_path.is_dir() and (looks_like_path or not (runs_dir / spec).is_dir()):
        return as_path
    if looks_like_path:
        raise RunFolderError(f"no run folder at '{spec}'; pass a run folder or a run id")
    names = [p.name for p in run_dirs(runs_dir)]
    shown = f"{runs_dir}{os.sep}"
    if spec == "latest":
        if not names:
            raise RunFolderError(f"no runs in {shown}; run a backtest first")
        return runs_dir / max(names, key=lambda n: (_created_key(runs_dir / n), n))
    if spec in names:
        return runs_dir / spec
    matches = [n for n in names if n.startswith(spec)] or [n for n in names if spec in n]
    if len(matches) == 1:
        return runs_dir / matches[0]
    if not matches:
        raise RunFolderError(
            f"no run '{spec}' in {shown}; `papertrade runs list` shows the ids"
        )
    listed = ", ".join(matches[:3]) + (", ..." if len(matches) > 3 else "")
    raise RunFolderError(
        f"'{spec}' matches {len(matches)} runs in {shown} ({listed}); give more of the id"
    )


def _created_key(path: Path) -> float:
    created = parse_time(path.name.split("-")[0])
    return created.timestamp() if created else 0.0
