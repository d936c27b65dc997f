"""The ``papertrade`` command line.

Heavy modules (pandas, backtrader, ccxt, plotly) are imported inside the commands, so
``papertrade --help`` stays instant. Every error papertrade raises on purpose prints as one
line and exits with code 2; ``-v`` shows the traceback as well.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="papertrade",
    help="Backtest and paper-trade strategies from a YAML config; review the runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigArg = Annotated[
    Path, typer.Argument(help="YAML run config, e.g. configs/rut_breakout_rotation.yaml")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a key, e.g. --set strategy.params.rotation.top_k=2"),
]
StrategyPathOpt = Annotated[
    list[Path] | None,
    typer.Option("--strategy-path", help="a folder whose .py files define strategies "
                 "(repeatable)"),
]


def _date_option(name: str, value: str | None) -> dt.date | None:
    from papertrade.errors import ConfigError

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError("command line", name, f"'{value}' is not a date",
                          "write YYYY-MM-DD") from None


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show tracebacks")] = False,
) -> None:
    """papertrade: config -> data -> strategy -> broker -> journal -> report."""


def _load(config: Path, overrides: list[str] | None) -> Any:
    from papertrade.config import load_config

    return load_config(config, overrides or [])


@app.command()
def backtest(
    config: ConfigArg,
    start: Annotated[str | None, typer.Option(help="first bar (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option(help="last bar (YYYY-MM-DD)")] = None,
    overrides: SetOpt = None,
    report: Annotated[bool, typer.Option(help="write report.html")] = True,
    strategy_path: StrategyPathOpt = None,
) -> None:
    """Backtest CONFIG on historical data; prints a summary and the run folder."""
    from papertrade.runner import run_backtest
    from papertrade.terminal import print_summary

    loaded = _load(config, overrides)
    result = run_backtest(
        loaded, start=_date_option("--start", start), end=_date_option("--end", end),
        report=report, strategy_paths=strategy_path or [],
    )
    print_summary(result.folder, result.metrics)


@app.command()
def live(
    config: ConfigArg,
    once: Annotated[bool, typer.Option("--once", help="make one decision, then stop")] = False,
    until: Annotated[str | None, typer.Option(help="last bar to decide on (YYYY-MM-DD)")] = None,
    resume: Annotated[Path | None, typer.Option(help="run folder to carry on")] = None,
    check: Annotated[bool, typer.Option("--check", help="check config, keys and sandbox; "
                                                      "send nothing")] = False,
    overrides: SetOpt = None,
    strategy_path: StrategyPathOpt = None,
) -> None:
    """Paper-trade CONFIG live: testnet, dry run or the local emulator (broker.mode)."""
    from papertrade.live.check import live_check
    from papertrade.runner import build_strategy

    loaded = _load(config, overrides)
    strategy = build_strategy(loaded, strategy_path or [])
    if check:
        problems = live_check(loaded, strategy, typer.echo)
        if problems:
            raise SystemExit(2)
        return
    from papertrade.live.session import run_live
    from papertrade.terminal import print_summary

    result = run_live(loaded, strategy, until=_date_option("--until", until), once=once,
                      resume=resume)
    typer.echo(f"{result.decisions} decisions; stopped: {result.stop_reason}")
    print_summary(result.folder, result.metrics)
    if result.stop_reason.startswith("kill switch"):
        from papertrade.errors import RailTriggered

        raise RailTriggered(f"{result.stop_reason} (run folder {result.folder})")


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
def schema() -> None:
    """Print the JSON schema of run configs (strategy params per strategy)."""
    from papertrade.config import RunConfig
    from papertrade.strategies import registry

    schema = RunConfig.model_json_schema()
    schema["$comment"] = "strategy.params is validated by the named strategy's Params"
    schema["x-strategy-params"] = {
        name: cls.Params.model_json_schema() for name, cls in sorted(registry().items())
    }
    typer.echo(json.dumps(schema, indent=2))


def _mount() -> None:
    """Add the ``exchange`` and ``runs`` sub-apps (once per process: ``main`` may be called
    many times in one, as the tests do)."""
    from papertrade.exchange_sim.cli import app as exchange_app
    from papertrade.report.cli import app as runs_app
    from papertrade.research.sweep_cli import sweep
    from papertrade.strategy_cli import app as strategies_app

    if any(group.typer_instance is runs_app for group in app.registered_groups):
        return
    app.add_typer(exchange_app, name="exchange", help="The local Binance-spot exchange emulator.")
    app.add_typer(runs_app, name="runs", help="List, show, compare and report runs.")
    app.add_typer(strategies_app, name="strategies",
                  help="List the strategies and show their parameters.")
    app.command(name="sweep")(sweep)


def _configure_logging(verbose: bool) -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="INFO" if verbose else "WARNING",
               format="<level>{level: <7}</level> {message}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``papertrade`` console script."""
    from papertrade.errors import PapertradeError

    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
    _configure_logging(verbose)
    _mount()
    try:
        code = app(args=args, standalone_mode=False)
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
        context = getattr(usage, "ctx", None)
        if not text and context is not None:  # a bare group: `papertrade`, `papertrade runs`
            typer.echo(context.get_help())
            raise SystemExit(0) from None
        typer.echo(f"error: {text}; see papertrade --help", err=True)
        raise SystemExit(getattr(usage, "exit_code", 2)) from None


if __name__ == "__main__":
    main()
