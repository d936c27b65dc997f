"""The ``papertrade sweep`` command (registered by :func:`papertrade.cli._mount`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from papertrade.util.options import date_option

GRID_HELP = ("KEY=VALUES: a list (20,50,100), a range a..b:step (inclusive), or strings "
             "(daily,weekly); repeatable")


def sweep(
    config: Annotated[Path | None, typer.Argument(
        help="YAML run config (optional with --resume)")] = None,
    grid: Annotated[list[str] | None, typer.Option("--grid", help=GRID_HELP)] = None,
    samples: Annotated[int | None, typer.Option(
        help="draw N random points of the grid instead of all")] = None,
    seed: Annotated[int, typer.Option(help="seed of --samples")] = 0,
    objective: Annotated[str, typer.Option(
        help="metric of metrics.json that ranks configs (walk-forward picks by it)")] = "sharpe",
    workers: Annotated[int | None, typer.Option(
        help="local worker processes [default: all cores]", min=1)] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="run on an existing Dask cluster, e.g. tcp://127.0.0.1:8786")] = None,
    walk_forward: Annotated[str | None, typer.Option(
        "--walk-forward", help="TRAIN:TEST spans, e.g. 3y:6m (rolling)")] = None,
    anchored: Annotated[bool, typer.Option(
        "--anchored", help="walk-forward train windows all start at the first bar")] = False,
    resume: Annotated[Path | None, typer.Option(
        help="finish an interrupted sweep folder without recomputing its rows")] = None,
    start: Annotated[str | None, typer.Option(help="first bar (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option(help="last bar (YYYY-MM-DD)")] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="override a base key for every config")] = None,
    engine: Annotated[str | None, typer.Option(
        help="sim (the fast simulator) or backtrader (the real backtest, ~1 s a config)")] = None,
    strategy_path: Annotated[list[Path] | None, typer.Option(
        "--strategy-path", help="a folder whose .py files define strategies")] = None,
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
) -> None:
    """Run CONFIG over a grid of parameters (in parallel, on Dask); write a sweep folder."""

    from papertrade.errors import ConfigError
    from papertrade.research.engine import DEFAULT_ENGINE
    from papertrade.research.grid import parse_axis
    from papertrade.research.sweep import SweepSpec, run_sweep
    from papertrade.runfolder import read_json
    from papertrade.runfolder.layout import GRID

    if resume is not None:
        payload, problem = read_json(resume / GRID)
        if problem or not isinstance(payload, dict):
            raise ConfigError("command line", "--resume",
                              f"{resume} is not a sweep folder ({problem or 'bad grid.json'})",
                              "pass a folder written by papertrade sweep")
        spec = SweepSpec.from_json(payload)
        if config is not None and Path(config).resolve() != Path(spec.config).resolve():
            raise ConfigError("command line", "CONFIG",
                              f"{config} is not the sweep's config {spec.config}",
                              "drop CONFIG or pass the same file")
        if grid:
            raise ConfigError("command line", "--grid", "a resumed sweep keeps its grid",
                              "drop --grid")
    else:
        if config is None:
            raise ConfigError("command line", "CONFIG", "missing", "pass a YAML run config")
        for name, value in (("--start", start), ("--end", end)):
            date_option(name, value)
        spec = SweepSpec(
            config=str(config), grid=[parse_axis(item) for item in grid or []],
            sets=list(overrides or []), samples=samples, seed=seed, objective=objective,
            walk_forward=walk_forward, anchored=anchored, start=start, end=end,
            engine=engine or DEFAULT_ENGINE,
            strategy_paths=[str(p) for p in strategy_path or []],
        )
        if not spec.grid:
            raise ConfigError("--grid", "", "no --grid given",
                              "give at least one, e.g. --grid strategy.params.exit.ma_days=20,50")
    folder = run_sweep(spec, workers=workers, scheduler=scheduler, resume=resume,
                       progress=progress)
    from papertrade.report.sweep_terminal import print_sweep_summary

    print_sweep_summary(folder)
