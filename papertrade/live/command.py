"""``papertrade live``: check a live config, or run it with the terminal view attached."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer

from papertrade.config import LoadedConfig
from papertrade.strategies import Strategy


def live_check_command(loaded: LoadedConfig, strategy: Strategy) -> None:
    """``live --check``: one line per check; exit 0 only when every check passes."""
    from papertrade.live.check import live_check

    problems = live_check(loaded, strategy, typer.echo)
    if problems:
        raise SystemExit(2)


def live_run_command(loaded: LoadedConfig, strategy: Strategy, *, until: dt.date | None,
                     once: bool, resume: Path | None) -> None:
    """Run live with the terminal view (rich panel on a terminal, plain lines otherwise)."""
    from loguru import logger
    from rich.console import Console

    from papertrade.live.events import EventBus
    from papertrade.live.session import run_live
    from papertrade.live.view import LiveView
    from papertrade.terminal import print_summary

    console = Console(highlight=False)
    view = LiveView(console)
    bus = EventBus()
    bus.subscribe(view)
    sink = None
    if view.interactive:  # warnings go above the panel, not through it
        verbose = "-v" in sys.argv or "--verbose" in sys.argv
        logger.remove()
        sink = logger.add(view.log, level="INFO" if verbose else "WARNING",
                          format="{level: <7} {message}", colorize=False)
    try:
        with view:
            result = run_live(loaded, strategy, until=until, once=once, resume=resume,
                              bus=bus)
    finally:
        if sink is not None:
            logger.remove(sink)
            logger.add(sys.stderr, level="WARNING", format="<level>{level: <7}</level> {message}")
    if result.metrics.get("start") is None:  # nothing decided: no "None -> None" summary
        console.print(f"no decision made; run folder: {result.folder}", soft_wrap=True)
    else:
        print_summary(result.folder, result.metrics, console)
    if once and not result.decisions and "already decided" not in result.stop_reason:
        from papertrade.errors import DataError

        raise DataError(f"{result.stop_reason.removeprefix('--once: ')} (run folder "
                        f"{result.folder})")
    if result.stop_reason.startswith("kill switch"):
        from papertrade.errors import RailTriggered

        raise RailTriggered(f"{result.stop_reason} (run folder {result.folder})")
