"""What a live run shows on the terminal: a rich dashboard, or plain timestamped lines.

On a terminal (``Console.is_terminal``) the view keeps a live panel at the bottom: run folder,
mode and venue, the next decision time with a countdown, the last decision and its reason,
positions, equity against the starting cash and against the strategy's benchmarks, counts of
orders, rejections and retries, and for a replay (``--until``) a progress bar with its rate and
ETA. Above the panel it prints one line per start, decision, trade, rejection, kill switch,
skipped decision, announced wait and stop. Elsewhere (a pipe, a service, CI) it prints the same
events as plain lines, each stamped with the wall-clock UTC time.

The countdown runs against the run's clock: real time counts down in real time; a replay's
simulated clock jumps, so its countdown shows the simulated time left at the last event.
"""

from __future__ import annotations

import math
import time as wall
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pandas as pd
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from papertrade.live import events as ev

#: waits longer than this (real seconds) are always announced with their end time
ANNOUNCE_WAIT_SECONDS = 5.0


def countdown(seconds: float) -> str:
    """``1d 02:03:04`` / ``02:03:04`` for a number of seconds (negative: ``00:00:00``)."""
    total = max(0, math.ceil(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


class _Rate(ProgressColumn):
    """Decisions per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} decisions/s" if speed else "", style="cyan")


@dataclass
class _State:
    start: ev.Started | None = None
    waiting: ev.Waiting | None = None
    waiting_since: float = 0.0  # time.monotonic() at the Waiting event
    decision: ev.Decision | None = None
    first_benchmarks: dict[str, float] = field(default_factory=dict)
    first_label: str = ""
    positions: dict[str, float] = field(default_factory=dict)
    orders: int = 0
    trades: int = 0
    rejections: int = 0
    retries: int = 0
    skipped: str = ""
    ended: str = ""


class LiveView:
    """An event subscriber that renders a live run (use as a context manager around it)."""

    def __init__(self, console: Console | None = None, *, interactive: bool | None = None
                 ) -> None:
        self.console = console or Console(highlight=False)
        self.interactive = self.console.is_terminal if interactive is None else interactive
        self.state = _State()
        self._live: Live | None = None
        self._progress: Progress | None = None
        self._task: Any = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LiveView:
        if self.interactive:
            self._live = Live(get_renderable=self._panel, console=self.console,
                              refresh_per_second=4, transient=False, redirect_stderr=False)
            self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
            self._live = None

    def log(self, message: str) -> None:
        """A loguru sink: warnings printed above the panel instead of through it."""
        self._line(Text(str(message).rstrip(), style="yellow"))

    # ------------------------------------------------------------------ events

    def __call__(self, event: ev.LiveEvent) -> None:
        """Take one event: update the panel's state, print the line the event deserves."""
        s = self.state
        printed = True
        if isinstance(event, ev.Started):
            s.start = event
            self._start_progress(event)
        elif isinstance(event, ev.Waiting):
            s.waiting, s.waiting_since = event, wall.monotonic()
            printed = event.real_seconds > ANNOUNCE_WAIT_SECONDS
        elif isinstance(event, ev.Decision):
            s.decision, s.skipped = event, ""
            s.first_label = s.first_label or event.label
            s.positions = {k: v for k, v in event.positions.items() if v}
            for name, close in event.benchmarks.items():
                s.first_benchmarks.setdefault(name, close)
            if self._progress is not None:
                self._progress.advance(self._task)
        elif isinstance(event, ev.Skipped):
            s.skipped = event.why
        elif isinstance(event, ev.OrderPlaced):
            s.orders += 1
            printed = event.status != "filled"  # a filled order is printed as its trades
        elif isinstance(event, ev.Trade):
            s.trades += 1
            sign = 1.0 if event.side == "buy" else -1.0
            s.positions[event.symbol] = s.positions.get(event.symbol, 0.0) + sign * event.qty
        elif isinstance(event, ev.Rejection):
            s.rejections += 1
        elif isinstance(event, ev.Retry):
            s.retries += 1
        elif isinstance(event, ev.Stopped | ev.Crashed):
            s.waiting, s.ended = None, event.text
        if printed:
            self._line(self._styled(event))
        if self._live is not None:
            self._live.refresh()

    def _start_progress(self, event: ev.Started) -> None:
        if event.until is None or not self.interactive:
            return
        total = max(1, (event.until - event.first_decision).days + 1)
        self._progress = Progress(
            TextColumn("[bold]replay"), BarColumn(), MofNCompleteColumn(), _Rate(),
            TextColumn("ETA"), TimeRemainingColumn(), console=self.console, auto_refresh=False)
        self._task = self._progress.add_task("decisions", total=total)

    # ------------------------------------------------------------------ output

    def _line(self, text: Text) -> None:
        if self.interactive:
            self.console.print(text, soft_wrap=True)
        else:
            stamp = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
            self.console.print(Text(f"{stamp} ") + text, soft_wrap=True)

    @staticmethod
    def _styled(event: ev.LiveEvent) -> Text:
        style = {ev.Trade: "bold", ev.Rejection: "red", ev.KillSwitch: "bold red",
                 ev.Crashed: "bold red", ev.Retry: "yellow", ev.Skipped: "yellow",
                 ev.Started: "green", ev.Stopped: "green"}.get(type(event), "")
        return Text(event.text, style=style)

    def _panel(self) -> RenderableType:
        s = self.state
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        if s.start is not None:
            grid.add_row("run", f"{s.start.name}  {s.start.mode} on {s.start.venue}")
            grid.add_row("run folder", str(s.start.folder))
        grid.add_row("next decision", self._next())
        if s.skipped:
            grid.add_row("skipped", Text(s.skipped, style="yellow"))
        d = s.decision
        if d is not None:
            grid.add_row("last decision", f"{d.label}: {d.reason or 'no change'} "
                                          f"({d.orders} orders)")
            grid.add_row("equity", self._equity(d))
        held = ", ".join(f"{sym} {qty:.8g}" for sym, qty in s.positions.items() if qty > 0)
        grid.add_row("positions", held or "cash only")
        grid.add_row("activity", f"orders {s.orders}  trades {s.trades}  "
                                 f"rejections {s.rejections}  retries {s.retries}")
        parts: list[RenderableType] = [grid]
        if self._progress is not None:
            parts.append(self._progress.get_renderable())
        return Group(*parts)

    def _next(self) -> str:
        w = self.state.waiting
        if w is None:
            return f"none ({self.state.ended})" if self.state.ended else "connecting"
        left = (w.until - w.time).total_seconds()
        if w.real_seconds > 0:
            left -= wall.monotonic() - self.state.waiting_since
            return f"{w.until:%Y-%m-%d %H:%M:%S} UTC  in {countdown(left)}"
        return f"{w.until:%Y-%m-%d %H:%M:%S} UTC  in {countdown(left)} (simulated clock)"

    def _equity(self, d: ev.Decision) -> str:
        s = self.state
        if d.equity is None or s.start is None:
            return "n/a"
        text = f"{d.equity:,.2f} {s.start.quote}  {d.equity / s.start.cash - 1:+.2%} vs start"
        moves = [f"{name} {close / s.first_benchmarks[name] - 1:+.2%}"
                 for name, close in d.benchmarks.items() if s.first_benchmarks.get(name)]
        if moves:
            text += f"  benchmarks since {s.first_label}: " + "  ".join(moves)
        return text
