"""``papertrade runs``: list, show, compare and report logged runs.

Only typer and rich are imported at start-up; pandas and plotly load inside ``compare`` and
``report``, so ``runs list`` over hundreds of folders answers in a fraction of a second.

``list`` and ``show`` write nothing; ``report`` and ``compare`` write inside the runs folder
only (:mod:`papertrade.report.placement`), unless ``compare --out`` names a file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from papertrade.errors import RunFolderError

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    name="runs",
    help="Review logged runs: list them, show one, compare several, write HTML reports.",
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback(invoke_without_command=True)
def _runs(ctx: typer.Context) -> None:
    """Review logged runs: list them, show one, compare several, write HTML reports."""
    if ctx.invoked_subcommand is None:  # plain help, not a usage error
        typer.echo(ctx.get_help())
        raise typer.Exit(0)

RunsDir = Annotated[
    Path, typer.Option("--runs-dir", help="folder holding the run folders", show_default=True)
]
RunArg = Annotated[
    str, typer.Argument(help="run folder path, run id, unique prefix of one, or 'latest'")
]


def _width() -> int | None:
    """The width ``runs list`` fits: the terminal's or COLUMNS; 0 (unlimited) when piped."""
    import os

    return 0 if not sys.stdout.isatty() and "COLUMNS" not in os.environ else None


def _console() -> Console:
    """A console as wide as the terminal; 200 columns when piped (unless COLUMNS is set)."""
    import os

    from rich.console import Console

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(width=200 if piped else None)


@app.command("list")
def list_runs(
    runs_dir: RunsDir = Path("runs"),
    mode: Annotated[str | None, typer.Option(
        help="backtest, testnet, dry_run, emulator, sweep, or 'live' for the live modes")] = None,
    strategy: Annotated[str | None, typer.Option(
        help="strategy or config name contains this")] = None,
    since: Annotated[str | None, typer.Option(
        help="created on/after: 2026-11-01, 7d, 12h")] = None,
    status: Annotated[str | None, typer.Option(
        help="finished, running, crashed, failed or broken")] = None,
    sort: Annotated[str, typer.Option(
        help="created (newest first), return, cagr, sharpe, drawdown (shallowest first), "
             "trades, name or id")] = "created",
    reverse: Annotated[bool, typer.Option("--reverse", help="flip the sort order")] = False,
    limit: Annotated[int | None, typer.Option(help="show at most this many", min=1)] = None,
    show_keys: Annotated[list[str] | None, typer.Option(
        "--show", metavar="KEY",
        help="add a column with this setting of each run's config.yaml, e.g. "
             "strategy.params.exit.ma_days (repeatable)")] = None,
) -> None:
    """A table of runs: id, mode, name, period, status, return, max drawdown, Sharpe, trades.

    Fitted to the terminal: at a narrow width the least useful columns go first (mode, trades,
    name: the id holds both), then long cells wrap inside their column.
    """
    from papertrade.report.listing import order, scan, select
    from papertrade.report.terminal import render_list

    headers = scan(runs_dir)
    chosen = order(select(headers, mode=mode, strategy=strategy, since=since, status=status),
                   sort, reverse)
    chosen = chosen[:limit] if limit else chosen
    shown = []
    if show_keys:
        from papertrade.runfolder.settings import read_settings

        settings = [read_settings(h.path)[0] for h in chosen]
        shown = [(key, settings) for key in show_keys]
    render_list(chosen, _console(), len(headers), f"{runs_dir}", shown, width=_width())


@app.command("show")
def show(
    run: RunArg,
    runs_dir: RunsDir = Path("runs"),
    decisions: Annotated[int, typer.Option(help="how many decisions to show", min=0)] = 10,
    trades: Annotated[int, typer.Option(help="how many recent trades to show", min=0)] = 10,
) -> None:
    """Metrics, benchmarks, positions, latest decisions and why, trades, errors of one run
    (an event study: its verdicts and headline table)."""
    from papertrade.report.details import collect
    from papertrade.report.terminal import render_show
    from papertrade.runfolder import read_header, resolve_run

    path = resolve_run(run, runs_dir)
    mode = read_header(path).mode
    if mode == "study":
        from papertrade.report.study_page import render_study_show

        render_study_show(path, _console())
        return
    if mode == "sweep":  # grid, best rows and their replays, statistics
        from papertrade.report.sweep_terminal import sweep_lines

        for line in sweep_lines(path, top=max(trades, 1)):
            typer.echo(line)
        return
    render_show(collect(path, decisions=decisions, trades=trades), _console())


@app.command("compare")
def compare(
    runs: Annotated[list[str], typer.Argument(help="two or more runs (ids, prefixes, paths)")],
    runs_dir: RunsDir = Path("runs"),
    out: Annotated[Path | None, typer.Option(
        help="where to write the chart page [default: RUNS_DIR/_compare/compare-<ids>.html]"
    )] = None,
    open_: Annotated[bool, typer.Option("--open", help="open the chart in a browser")] = False,
    inline: Annotated[bool, typer.Option(help="embed plotly.js in the page")] = False,
) -> None:
    """Metrics side by side, and one HTML chart with every run's equity."""
    import hashlib

    from papertrade.report.html import write_compare
    from papertrade.report.placement import subfolder
    from papertrade.report.terminal import render_compare
    from papertrade.runfolder import read_header, resolve_run
    from papertrade.runfolder.layout import COMPARE_DIR

    if len(runs) < 2:
        raise RunFolderError("compare needs two or more runs; `papertrade runs list` shows ids")
    from papertrade.runfolder.settings import read_settings

    paths = [resolve_run(r, runs_dir) for r in runs]
    settings = [read_settings(p)[0] for p in paths]
    render_compare([read_header(p) for p in paths], _console(), settings)
    if out is None:
        digest = hashlib.sha256("\n".join(p.name for p in paths).encode()).hexdigest()[:8]
        out = subfolder(runs_dir, COMPARE_DIR) / f"compare-{digest}.html"
        root = runs_dir
    else:
        root = out.resolve().parent
    written = write_compare(paths, out, root, inline_js=inline)
    typer.echo(f"equity chart: {written}")
    if open_:
        _open(written)


@app.command("report")
def report(
    run: RunArg,
    runs_dir: RunsDir = Path("runs"),
    open_: Annotated[bool, typer.Option("--open", help="open it in a browser")] = False,
    inline: Annotated[bool, typer.Option(
        help="embed plotly.js (4.8 MB) so the file can be moved alone")] = False,
) -> None:
    """Write report.html into the run folder (charts, trades, metrics; works offline).

    A folder outside RUNS_DIR (a path, or a link to elsewhere) is only read: its report is
    written to RUNS_DIR/_reports/<name>.html.
    """
    from papertrade.report.html import write_report
    from papertrade.runfolder import resolve_run

    written = write_report(resolve_run(run, runs_dir), inline_js=inline, runs_dir=runs_dir)
    typer.echo(f"report: {written}")
    if open_:
        _open(written)


def _open(path: Path) -> None:
    import webbrowser

    if not webbrowser.open(path.resolve().as_uri()):
        typer.echo(f"no browser found; open {path.resolve().as_uri()} yourself", err=True)


def main() -> None:
    """Stand-alone entry (``python -m papertrade.report``): user errors in one line, exit 2."""
    from papertrade.util.text import one_line

    try:
        app()
    except RunFolderError as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        raise SystemExit(exc.exit_code) from None
