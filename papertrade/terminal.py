"""Compact terminal summary of a finished run; what a running backtest is doing."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _pct(value: Any) -> str:
    return f"{value:+.1%}" if isinstance(value, int | float) else "n/a"


def _num(value: Any, fmt: str = ".2f") -> str:
    return format(value, fmt) if isinstance(value, int | float) else "n/a"


def print_summary(folder: Path, metrics: dict[str, Any], console: Console | None = None) -> None:
    """Headline metrics, benchmarks and the run folder's path."""
    console = console or Console(highlight=False)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("", "return", "CAGR", "max DD", "Sharpe"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row(
        "strategy", _pct(metrics.get("total_return")), _pct(metrics.get("cagr")),
        _pct(metrics.get("max_drawdown")), _num(metrics.get("sharpe")),
    )
    for name, bench in (metrics.get("benchmarks") or {}).items():
        table.add_row(name, _pct(bench.get("total_return")), _pct(bench.get("cagr")),
                      _pct(bench.get("max_drawdown")), "")
    console.print(
        f"[bold]{metrics.get('start')} -> {metrics.get('end')}[/]  "
        f"equity {_num(metrics.get('start_equity'), ',.2f')} -> "
        f"{_num(metrics.get('end_equity'), ',.2f')}",
        soft_wrap=True,
    )
    console.print(table)
    if metrics.get("not_annualised"):
        console.print(f"CAGR, volatility, Sharpe, Sortino, Calmar: {metrics['not_annualised']}",
                      soft_wrap=True)
    console.print(
        f"trades {metrics.get('trades')}  round trips {metrics.get('round_trips')}  "
        f"win rate {_pct(metrics.get('win_rate'))}  profit factor "
        f"{_num(metrics.get('profit_factor'))}  exposure {_pct(metrics.get('exposure'))}  "
        f"fees {_num(metrics.get('fees'), ',.2f')}  "
        f"turnover {_num(metrics.get('turnover'), '.1f')}x",
        soft_wrap=True,
    )
    if metrics.get("kill_switch"):
        console.print(f"[bold red]{metrics['kill_switch']}[/]", soft_wrap=True)
    if metrics.get("rail_cuts"):
        console.print(f"risk rails cut {metrics['rail_cuts']} orders (the rest was deferred; "
                      "see the journal's rail events)", soft_wrap=True)
    console.print(f"run folder: {folder}", soft_wrap=True)


@contextmanager
def progress_status(console: Console | None = None) -> Iterator[Callable[[str], None]]:
    """A ``progress(step)`` callback showing each step of a run on stderr.

    On a terminal: a spinner with the current step and the seconds elapsed, erased when the
    run ends (the summary follows). Piped or redirected: nothing, so logs and captured output
    stay clean.
    """
    console = console or Console(stderr=True, highlight=False)
    if not (console.is_terminal and sys.stderr.isatty()):
        yield lambda step: None
        return
    from rich.live import Live
    from rich.spinner import Spinner

    spinner = Spinner("dots", text="starting", style="status.spinner")
    with Live(spinner, console=console, transient=True, refresh_per_second=12.5) as live:
        def show(step: str) -> None:
            spinner.update(text=escape(step))
            live.refresh()  # every step is drawn, however quickly the next one follows

        yield show
