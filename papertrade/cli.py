"""The ``papertrade`` command line.

Heavy modules (pandas, backtrader, ccxt, plotly) are imported inside the commands, so
``papertrade --help`` stays instant. Every error papertrade raises on purpose prints as one
line and exits with code 2; ``-v`` shows the traceback as well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from papertrade.util.options import date_option

app = typer.Typer(
    name="papertrade",
    help="Backtest and paper-trade strategies from a YAML config; review the runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's formatter costs ~0.1 s of imports per --help
)

ConfigArg = Annotated[
    Path, typer.Argument(help="YAML run config, e.g. configs/rut_breakout_rotation.yaml",
                         metavar="CONFIG", show_default=False)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="KEY=VALUE",
                 help="override a key, e.g. --set strategy.params.rotation.top_k=2 "
                      "(repeatable)"),
]
StrategyPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--strategy-path", metavar="DIR",
                 help="a folder whose .py files define strategies (repeatable)"),
]


def _print_version(value: bool) -> None:
    if value:
        from papertrade import __version__

        typer.echo(f"papertrade {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show tracebacks")] = False,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="print the version and exit")] = False,
) -> None:
    """papertrade: config -> data -> strategy -> broker -> journal -> report."""
    _configure_logging(verbose)  # here, not in main(): --help needs no loguru


def _load(config: Path, overrides: list[str] | None) -> Any:
    from papertrade.config import load_config

    return load_config(config, overrides or [])


@app.command()
def backtest(
    config: ConfigArg,
    start: Annotated[str | None, typer.Option(metavar="DATE", help="first bar (YYYY-MM-DD)")
                     ] = None,
    end: Annotated[str | None, typer.Option(metavar="DATE", help="last bar (YYYY-MM-DD)")
                   ] = None,
    overrides: SetOpt = None,
    report: Annotated[bool, typer.Option(help="write report.html")] = True,
    strategy_path: StrategyPathOpt = None,
) -> None:
    """Backtest CONFIG on historical data; prints a summary and the run folder."""
    from papertrade.runner import run_backtest
    from papertrade.terminal import print_summary, progress_status

    loaded = _load(config, overrides)
    with progress_status() as progress:
        result = run_backtest(
            loaded, start=date_option("--start", start), end=date_option("--end", end),
            report=report, strategy_paths=strategy_path or [], progress=progress,
        )
    print_summary(result.folder, result.metrics)


@app.command()
def live(
    config: ConfigArg,
    once: Annotated[bool, typer.Option("--once", help="make one decision, then stop")] = False,
    until: Annotated[str | None, typer.Option(metavar="DATE",
                                              help="last bar to decide on (YYYY-MM-DD)")] = None,
    resume: Annotated[Path | None, typer.Option(metavar="RUN_DIR",
                                                help="run folder to carry on")] = None,
    check: Annotated[bool, typer.Option("--check", help="check keys, venue, symbols, minimum "
                                                      "notional, clock, data; trade nothing")
                     ] = False,
    overrides: SetOpt = None,
    strategy_path: StrategyPathOpt = None,
) -> None:
    """Paper-trade CONFIG live: testnet, demo, dry run or the local emulator
    (broker.mode)."""
    from papertrade.live.command import live_check_command, live_run_command
    from papertrade.runner import build_strategy

    loaded = _load(config, overrides)
    strategy = build_strategy(loaded, strategy_path or [])
    if check:
        live_check_command(loaded, strategy)
        return
    live_run_command(loaded, strategy, until=date_option("--until", until), once=once,
                     resume=resume)


@app.command()
def validate(config: ConfigArg, overrides: SetOpt = None,
             strategy_path: StrategyPathOpt = None) -> None:
    """Check CONFIG (keys, types, strategy, symbols) without running anything."""
    from papertrade.runner import build_strategy

    loaded = _load(config, overrides)
    strategy = build_strategy(loaded, strategy_path or [])
    symbols = ", ".join(dict.fromkeys(strategy.symbol_keys().values()))
    typer.echo(f"{config}: ok ({strategy.name} on {symbols})")


@app.command()
def lookahead(
    config: ConfigArg,
    cuts: Annotated[str, typer.Option(
        metavar="N|all", help="every decision time ('all'), or the events' neighbourhoods "
        "plus N random decision times")] = "50",
    scrambled: Annotated[int | None, typer.Option(
        metavar="N", help="cuts that also get a scrambled future (default: every cut; "
        "with --cuts all, the events' plus 100)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the random cuts and scrambles")] = 0,
    start: Annotated[str | None, typer.Option(metavar="DATE", help="first bar")] = None,
    end: Annotated[str | None, typer.Option(metavar="DATE", help="last bar")] = None,
    overrides: SetOpt = None,
    strategy_path: StrategyPathOpt = None,
) -> None:
    """Check CONFIG's strategy for look-ahead bias: decisions recomputed on truncated
    histories and with scrambled futures must not change. Exit 0 clean, 7 otherwise."""
    from rich.console import Console
    from rich.progress import Progress

    from papertrade.errors import ConfigError, LookAheadFound
    from papertrade.research.lookahead import check_lookahead
    from papertrade.runner import build_strategy, load_history

    if cuts != "all" and not (cuts.isdigit() and int(cuts) > 0):
        raise ConfigError("command line", "--cuts", f"'{cuts}' is not a count",
                          "write a positive number or all")
    loaded = _load(config, overrides)
    strategy = build_strategy(loaded, strategy_path or [])
    history, _ = load_history(loaded, strategy, date_option("--start", start),
                              date_option("--end", end))
    with Progress(console=Console(stderr=True), transient=True) as bar:
        stages: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in stages:
                stages[stage] = bar.add_task(f"{stage} cuts", total=total)
            bar.update(stages[stage], completed=done)

        report = check_lookahead(strategy, history, cuts=None if cuts == "all" else int(cuts),
                                 scrambled_cuts=scrambled, seed=seed, progress=progress)
    for line in report.lines():
        typer.echo(line)
    first = report.first_violation()
    if first is not None:
        raise LookAheadFound(f"strategy '{strategy.name}' looks ahead: {first.describe()}")


@app.command()
def schema() -> None:
    """Print the JSON schema of run configs (strategy params per strategy: shipped and
    installed; `papertrade strategies show NAME` reads better in a terminal)."""
    from papertrade.config import RunConfig
    from papertrade.strategies import available

    schema = RunConfig.model_json_schema()
    schema["$comment"] = "strategy.params is validated by the named strategy's Params"
    schema["x-strategy-params"] = {
        name: cls.Params.model_json_schema() for name, cls in sorted(available().items())
    }
    typer.echo(json.dumps(schema, indent=2))


def _mount() -> None:
    """Add the ``exchange`` and ``runs`` sub-apps (once per process: ``main`` may be called
    many times in one, as the tests do)."""
    from papertrade.data_cli import app as data_app
    from papertrade.exchange_sim.cli import app as exchange_app
    from papertrade.report.cli import app as runs_app
    from papertrade.research.study_cli import study
    from papertrade.research.sweep_cli import sweep
    from papertrade.strategy_cli import app as strategies_app

    if any(group.typer_instance is runs_app for group in app.registered_groups):
        return
    app.command(name="study")(study)
    app.add_typer(exchange_app, name="exchange", help="The local Binance-spot exchange emulator.")
    app.add_typer(runs_app, name="runs", help="List, show, compare and report runs.")
    app.add_typer(strategies_app, name="strategies",
                  help="List the strategies and show their parameters.")
    app.add_typer(data_app, name="data", help="List, download and update market data.")
    app.command(name="sweep")(sweep)


def _configure_logging(verbose: bool) -> None:
    from loguru import logger

    logger.remove()
    # sys.stderr looked up per message: a backtest's spinner redirects it, so a warning is
    # printed above the spinner instead of through it
    def to_stderr(message: str) -> None:
        sys.stderr.write(message)

    logger.add(to_stderr, colorize=sys.stderr.isatty(),
               level="INFO" if verbose else "WARNING",
               format="<level>{level: <7}</level> {message}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``papertrade`` console script."""
    from papertrade.errors import PapertradeError

    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
    from papertrade.util.cli_help import use_readable_help

    use_readable_help()
    _mount()
    try:
        code = app(args=args, standalone_mode=False, prog_name="papertrade")
        if isinstance(code, int) and not isinstance(code, bool) and code:
            # typer turns Ctrl-C into Exit(130) and, not standalone, returns the code
            if code == 130:
                typer.echo("interrupted", err=True)
            raise SystemExit(code)
    except PapertradeError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        from papertrade.util.text import one_line

        typer.echo(f"error: {one_line(str(exc), 500)}", err=True)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise SystemExit(130) from None
    except typer.Abort:
        raise SystemExit(1) from None
    except typer.TyperException as usage:  # bad option values, missing arguments
        format_message = getattr(usage, "format_message", None)
        message = format_message() if callable(format_message) else str(usage)
        text = " ".join(str(message).split()).rstrip(".")
        if type(usage).__name__ == "NoArgsIsHelpError":  # `papertrade`: the help, once (click's
            # class, vendored by recent typer: matched by name to work with either)
            typer.echo(str(message).rstrip("\n"))
            raise SystemExit(0) from None
        typer.echo(f"error: {text}; see papertrade --help", err=True)
        raise SystemExit(getattr(usage, "exit_code", 2)) from None


if __name__ == "__main__":
    main()
