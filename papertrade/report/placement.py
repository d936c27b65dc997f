"""Where the review commands write: inside the runs folder, never through a link out of it.

- A run *of* the runs folder (its direct child once symlinks are resolved) gets
  ``report.html`` in its own folder.
- Any other folder (a run given by a path elsewhere, or linked into the runs folder from
  elsewhere) is only read: its report goes to ``<runs_dir>/_reports/<name>.html``.
- plotly.js is shared in ``<runs_dir>/_assets/``, compare pages go to ``<runs_dir>/_compare/``.
  These folders are created as real folders of the runs folder; a symlink in their place is
  refused, as is a runs folder that does not exist.
"""

from __future__ import annotations

from pathlib import Path

from papertrade.errors import RunFolderError
from papertrade.runfolder import within_runs_dir
from papertrade.runfolder.layout import REPORT, REPORTS_DIR
from papertrade.util.text import one_line


def _shown(path: Path) -> str:
    return one_line(str(path), 120)


def subfolder(root: Path, name: str) -> Path:
    """``root/name``, created if need be; a real folder of ``root``, never a link out of it."""
    if not root.is_dir():
        raise RunFolderError(
            f"runs folder '{_shown(root)}' does not exist; pass --runs-dir DIR"
        )
    real_root = root.resolve()
    target = real_root / name
    try:
        target.mkdir(exist_ok=True)
    except OSError as exc:
        raise RunFolderError(
            f"cannot create '{_shown(target)}' ({exc.strerror or 'not a folder'}); remove what "
            "is in its place"
        ) from None
    if target.is_symlink() or not target.is_dir() or target.resolve().parent != real_root:
        raise RunFolderError(
            f"'{_shown(target)}' is a link out of the runs folder; papertrade writes only "
            "inside it: remove the link"
        )
    return target


def report_target(run: Path, runs_dir: Path) -> Path:
    """Where the report of the run folder ``run`` goes (see the module's docstring)."""
    if within_runs_dir(run, runs_dir):
        return run.resolve() / REPORT
    name = run.name if run.name not in ("", ".", "..") else run.resolve().name
    return subfolder(runs_dir, REPORTS_DIR) / f"{name or 'run'}.html"
