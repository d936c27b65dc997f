"""Reading one run folder (docs/run-folder.md, format 1), tolerant of anything missing or bad.

Standard library only: ``runs list`` reads 500 folders through this module without pandas.
Nothing here writes into a run folder; files are read through :mod:`.files` (regular files
only, size and depth limits), the journal through :mod:`papertrade.report.journal`.

Status of a run:

- ``finished`` / ``failed``: as the manifest says (a finished run must have ``metrics.json``);
- ``running``: the manifest says running and its ``pid`` is alive (and not a reused pid);
- ``crashed``: the manifest says running but the ``pid`` is gone;
- ``broken``: the manifest is missing/unparseable/too large/of an unknown format, or the folder
  is unreadable: ``reason`` says which, on one line.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papertrade.errors import RunFolderError
from papertrade.runfolder.files import file_problem, read_json
from papertrade.runfolder.layout import (
    END_FILES,
    FORMAT,
    MANIFEST,
    MAX_CSV_BYTES,
    METRICS,
    START_FILES,
    STUDY_FILES,
    SWEEP_END_FILES,
    SWEEP_START_FILES,
)
from papertrade.runfolder.process import pid_alive
from papertrade.util.text import one_line

#: how much of a user's input an error message echoes
_ECHO = 60


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
        """A manifest value as one line of text ('' if absent)."""
        value = self.get(key)
        return "" if value is None else one_line(str(value))

    def metric(self, key: str) -> Any:
        """A metrics.json value, ``None`` if absent."""
        return (self.metrics or {}).get(key)

    @property
    def mode(self) -> str:
        """``backtest``, ``testnet``, ``dry_run``, ``emulator`` (manifest, else folder name)."""
        return self.text("mode") or _name_part(self.path.name, -2)

    @property
    def name(self) -> str:
        """The config's name."""
        return self.text("name")

    @property
    def quote(self) -> str:
        """The quote (cash) currency."""
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
        return one_line(str(start), _ECHO), one_line(str(end), _ECHO)

    @property
    def is_live(self) -> bool:
        """Any mode but ``backtest`` and the research modes (``study``, ``sweep``), which
        trade nothing."""
        return self.mode not in ("backtest", "study", "sweep", "")


def _name_part(name: str, index: int) -> str:
    parts = name.split("-")
    return parts[index] if len(parts) >= 4 else ""


def parse_time(value: Any) -> dt.datetime | None:
    """ISO-8601 (``2026-11-21T10:15:00Z``) or compact (``20261121T101500Z``) -> aware UTC."""
    if not isinstance(value, str) or not value or len(value) > 64:
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


# --------------------------------------------------------------------------- the header


def read_header(path: Path) -> RunHeader:
    """Manifest + metrics + status of the folder at ``path``; never raises for bad content.

    Whatever the folder holds, the answer is a header: a folder that cannot be read for any
    reason is ``broken`` with that reason, so one bad folder never hides the others.
    """
    try:
        return _read_header(path)
    except (OSError, ValueError, RecursionError, MemoryError) as exc:  # the last safety net
        why = one_line(f"unreadable ({type(exc).__name__}: {exc})")
        return RunHeader(path, None, None, "broken", why)


def _read_header(path: Path) -> RunHeader:
    try:
        if not path.is_dir():
            why = "symlink to a missing folder" if path.is_symlink() else "not a folder"
            return RunHeader(path, None, None, "broken", why)
        os.listdir(path)
    except OSError as exc:
        why = f"folder unreadable ({one_line(exc.strerror or str(exc), _ECHO)})"
        return RunHeader(path, None, None, "broken", why)
    manifest, problem = read_json(path / MANIFEST)
    metrics_raw, metrics_problem = read_json(path / METRICS)
    metrics = metrics_raw if isinstance(metrics_raw, dict) else None
    if metrics_raw is not None and metrics is None:
        metrics_problem = f"{METRICS} is not a JSON object"
    if problem:
        return RunHeader(path, None, metrics, "broken", problem)
    if not isinstance(manifest, dict):
        return RunHeader(path, None, metrics, "broken", f"{MANIFEST} is not a JSON object")
    notes: list[str] = []
    fmt = manifest.get("format")
    if fmt is None:
        notes.append("manifest has no 'format': written by an older papertrade")
    elif not isinstance(fmt, int) or isinstance(fmt, bool):
        shown = one_line(repr(fmt), _ECHO)
        return RunHeader(path, manifest, metrics, "broken", f"manifest format {shown} unknown")
    elif fmt > FORMAT:
        return RunHeader(
            path, manifest, metrics, "broken",
            f"run folder format {fmt} is newer than this papertrade reads ({FORMAT}); "
            "upgrade papertrade",
        )
    declared = manifest.get("status")
    if declared == "finished":
        if metrics is None and manifest.get("mode") != "study":  # a study has no metrics
            return RunHeader(
                path, manifest, None, "broken", f"finished, but {metrics_problem}", tuple(notes)
            )
        return RunHeader(path, manifest, metrics, "finished", "", tuple(notes))
    if metrics_problem and not metrics_problem.endswith("missing"):
        notes.append(metrics_problem)
    if declared == "failed":
        error = one_line(str(manifest.get("error") or ""))
        return RunHeader(path, manifest, metrics, "failed", error, tuple(notes))
    if declared == "running":
        pid = manifest.get("pid")
        created = parse_time(manifest.get("created_at"))
        if pid_alive(pid, created):
            return RunHeader(path, manifest, metrics, "running", "", tuple(notes))
        why = (f"pid {one_line(str(pid), _ECHO)} is not alive" if pid is not None
               else "the manifest has no pid")
        return RunHeader(path, manifest, metrics, "crashed", why, tuple(notes))
    shown = one_line(repr(declared), _ECHO)
    return RunHeader(
        path, manifest, metrics, "broken", f"manifest status {shown} unknown", tuple(notes)
    )


def missing_files(header: RunHeader) -> list[str]:
    """One note per expected file that is absent, saying why it probably is."""
    notes: list[str] = []
    try:
        present = set(os.listdir(header.path))
    except OSError:
        return notes
    start_files, end_files = {  # files written at the start, and those written at the end
        "study": ((), STUDY_FILES),
        "sweep": (SWEEP_START_FILES, SWEEP_END_FILES),
    }.get(header.mode, (START_FILES, END_FILES))
    for name in (*start_files, *end_files):
        if name in present:
            continue
        if name in end_files and header.status == "running":
            why = "not written yet: the run is still running"
        elif header.status in ("crashed", "failed") and name in end_files:
            why = f"the run {header.status} before writing it"
        elif header.status == "broken":
            why = "the folder is broken"
        elif "format" not in (header.manifest or {}):
            why = "written by an older papertrade"
        else:
            why = "not written or deleted"
        notes.append(f"{name} missing ({why})")
    return notes


def unreadable_files(header: RunHeader) -> list[str]:
    """One note per CSV of the run that is there but is not read (a FIFO, a device, a link
    out of the folder, too large): the same words the readers use."""
    notes: list[str] = []
    for name in END_FILES:
        if name.endswith(".csv"):
            problem = file_problem(header.path / name, MAX_CSV_BYTES)
            if problem and not problem.endswith(" missing"):
                notes.append(problem)
    return notes


# --------------------------------------------------------------------------- finding runs


def _shown(value: Path | str) -> str:
    """A user's input (a run id, a path) as an error message may echo it: short, one line."""
    limit = 2 * _ECHO if isinstance(value, Path) else _ECHO
    return one_line(str(value), limit)


def run_dirs(runs_dir: Path) -> list[Path]:
    """Candidate run folders in ``runs_dir`` (``.hidden`` and ``_assets``-like names skipped)."""
    try:
        entries = list(os.scandir(runs_dir))
    except FileNotFoundError:
        raise RunFolderError(
            f"runs folder '{_shown(runs_dir)}' does not exist; pass --runs-dir or run a "
            "backtest first"
        ) from None
    except NotADirectoryError:
        raise RunFolderError(f"'{_shown(runs_dir)}' is not a folder; pass --runs-dir DIR") from None
    except OSError as exc:
        raise RunFolderError(
            f"cannot read runs folder '{_shown(runs_dir)}': {one_line(exc.strerror or '', 80)}"
        ) from None
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


def within_runs_dir(run: Path, runs_dir: Path) -> bool:
    """Whether ``run`` is a run folder *of* ``runs_dir``: its direct child once symlinks are
    resolved (a link in ``runs_dir`` to a folder elsewhere is not)."""
    try:
        real, root = run.resolve(), runs_dir.resolve()
    except (OSError, RuntimeError):
        return False
    return real.parent == root and not real.name.startswith((".", "_"))


def resolve_run(spec: str, runs_dir: Path) -> Path:
    """A run folder from a path, a run id, a unique prefix (else part) of one, or ``latest``."""
    as_path = Path(spec).expanduser()
    looks_like_path = os.sep in spec or spec.startswith(".") or as_path.is_absolute()
    try:
        is_dir = as_path.is_dir()
        shadowed = not looks_like_path and (runs_dir / spec).is_dir()
    except (OSError, ValueError):  # a name too long, or holding a NUL byte
        is_dir = shadowed = False
    if is_dir and (looks_like_path or not shadowed):
        return as_path
    if looks_like_path:
        raise RunFolderError(f"no run folder at '{_shown(spec)}'; pass a run folder or a run id")
    names = [p.name for p in run_dirs(runs_dir)]
    shown = f"{_shown(runs_dir)}{os.sep}"
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
            f"no run '{_shown(spec)}' in {shown}; `papertrade runs list` shows the ids"
        )
    listed = ", ".join(matches[:3]) + (", ..." if len(matches) > 3 else "")
    raise RunFolderError(one_line(
        f"'{_shown(spec)}' matches {len(matches)} runs in {shown}; give more of the id "
        f"({listed})"
    ))


def _created_key(path: Path) -> float:
    created = parse_time(path.name.split("-")[0])
    return created.timestamp() if created else 0.0
