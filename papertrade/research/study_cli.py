"""``papertrade study CONFIG``: the event study of the configured strategy's own signals.

Registered as a top-level command by :func:`papertrade.cli._mount`; heavy imports (pandas,
arch, statsmodels) happen inside the command so ``papertrade --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from papertrade.errors import ConfigError
from papertrade.util.options import date_option

MAX_HORIZON = 3650
MAX_PLACEBOS = 1_000_000
MAX_BOOTSTRAP = 100_000


def parse_horizons(text: str) -> tuple[int, ...]:
    """``7,30,90`` -> (7, 30, 90): whole calendar days in 1..3650, at least one."""
    parts = [p.strip().removesuffix("d") for p in text.split(",") if p.strip()]
    fix = "write calendar days separated by commas, e.g. --horizons 7,30,90,180,365"
    if not parts:
        raise ConfigError("command line", "--horizons", "no horizon given", fix)
    out: list[int] = []
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= MAX_HORIZON:
            shown = part[:20]
            raise ConfigError("command line", "--horizons",
                              f"'{shown}' is not a whole number of days in 1..{MAX_HORIZON}", fix)
        out.append(int(part))
    return tuple(sorted(set(out)))


def _count(name: str, value: int, most: int) -> int:
    if not 0 <= value <= most:
        raise ConfigError("command line", name, f"{value} is outside 0..{most:,}",
                          f"pass a count between 0 and {most:,}")
    return value


def study(
    config: Annotated[Path, typer.Argument(
        help="YAML run config, e.g. configs/rut_breakout_rotation.yaml")],
    horizons: Annotated[str, typer.Option(
        help="forward horizons in calendar days, comma-separated")] = "7,30,90,180,365",
    event: Annotated[str | None, typer.Option(
        help="study only this event kind (e.g. breakout); default: each kind on its own")
    ] = None,
    placebos: Annotated[int, typer.Option(
        help="random event sets of the same count and spacing (0: none)")] = 10_000,
    bootstrap: Annotated[int, typer.Option(
        help="stationary block bootstrap resamples (0: none)")] = 1_000,
    seed: Annotated[int, typer.Option(help="seed of placebos and bootstrap")] = 0,
    start: Annotated[str | None, typer.Option(help="first bar (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option(help="last bar (YYYY-MM-DD)")] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="override a key, e.g. --set strategy.params.exit.ma_days=100")] = None,
    report: Annotated[bool, typer.Option(help="write report.html")] = True,
    strategy_path: Annotated[list[Path] | None, typer.Option(
        "--strategy-path", help="a folder whose .py files define strategies (repeatable)")
    ] = None,
) -> None:
    """What each asset did after each of the strategy's signals, against any day and luck."""
    from papertrade.config import load_config
    from papertrade.research.study import StudyOptions
    from papertrade.research.study_run import run_study

    options = StudyOptions(
        horizons=parse_horizons(horizons), event=event or None,
        placebos=_count("--placebos", placebos, MAX_PLACEBOS),
        bootstrap=_count("--bootstrap", bootstrap, MAX_BOOTSTRAP), seed=seed)
    if not 0 <= seed < 2**63:
        raise ConfigError("command line", "--seed", f"{seed} is negative or too large",
                          "pass a seed in 0..2**63-1")
    loaded = load_config(config, overrides or [])
    result = run_study(loaded, options, start=date_option("--start", start),
                       end=date_option("--end", end), strategy_paths=strategy_path or [],
                       report=report)
    for kind, text in result.verdicts.items():
        typer.echo(f"[{kind}] {text}\n")
    typer.echo(f"study: {result.folder}")
