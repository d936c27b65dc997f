"""Review logged runs: read run folders, list/show/compare them, write ``report.html``.

Importing this package is cheap (no pandas, no plotly); :func:`write_report` loads them.
The CLI is :data:`papertrade.report.cli.app`, mounted as ``papertrade runs``.
"""

from __future__ import annotations

from pathlib import Path


def write_report(run_dir: Path, *, inline_js: bool = False,
                 runs_dir: Path | None = None) -> Path:
    """Write ``<run_dir>/report.html`` (plotly.js shared in ``<runs_dir>/_assets/``).

    ``runs_dir`` defaults to the folder holding ``run_dir``; a folder that is not a run of
    ``runs_dir`` is only read, its report written to ``<runs_dir>/_reports/<name>.html``.
    Call it once the run's files are final (after metrics.json and the final manifest).
    Returns the report's path; raises :class:`~papertrade.errors.RunFolderError` if
    ``run_dir`` is not a folder or the report cannot be written. Missing or damaged files
    are reported inside the page.
    """
    from papertrade.report.html import write_report as _write

    return _write(Path(run_dir), inline_js=inline_js,
                  runs_dir=None if runs_dir is None else Path(runs_dir))


def write_report_or_note(run_dir: Path) -> None:
    """:func:`write_report` for a run that has just finished: a report that fails must not
    lose the run, so the failure is logged and kept in ``report.error.txt`` instead."""
    import json

    from loguru import logger

    try:
        write_report(run_dir)
    except Exception as exc:
        logger.warning("report.html not written: {}", exc)
        (Path(run_dir) / "report.error.txt").write_text(json.dumps({"error": str(exc)}))


__all__ = ["write_report", "write_report_or_note"]
