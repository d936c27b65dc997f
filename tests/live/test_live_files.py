"""A live run writes the backtest's review files and keeps them current: after every decision
the report, metrics and CSVs show it, the report's header says the run is running and when it
last decided, and once it stops, why. A 5-day window is not annualised, live or backtest."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd

from papertrade.config import load_config
from papertrade.live import events as ev
from papertrade.live.session import run_live
from papertrade.metrics import ANNUALISED
from papertrade.report.formatting import TOO_SHORT
from papertrade.runner import build_strategy, run_backtest
from tests.conftest import FLAGSHIP

LIVE = ["broker.mode=emulator", "broker.emulator.start=2020-10-01",
        "live.decision_delay_seconds=0"]
FILES = ("report.html", "equity.csv", "trades.csv", "metrics.json", "weights.csv",
         "benchmarks.csv", "signals.csv")


def header(report: Path) -> tuple[str, str]:
    """(live state, last decision) as the report's header shows them."""
    html = report.read_text()
    state = re.search(r'id="live-state"[^>]*>([^<]*)<', html)
    last = re.search(r'id="last-decision">([^<]*)<', html)
    assert state and last, "the report's header has no live state"
    return state.group(1), last.group(1)


def test_files_are_refreshed_after_each_decision_and_say_so(tmp_path: Path) -> None:
    """Read at each decision, the files show the decision before it: the refresh happened
    between them, not only at the end."""
    loaded = load_config(FLAGSHIP, [f"runs_dir={tmp_path}", *LIVE])
    bus = ev.EventBus()
    decided: list[str] = []
    seen: list[tuple[str, str, int, int] | None] = []
    folder: list[Path] = []

    def watch(event: ev.LiveEvent) -> None:
        if isinstance(event, ev.Started):
            folder.append(event.folder)
        if isinstance(event, ev.Decision):
            report = folder[0] / "report.html"
            if report.exists():
                state, last = header(report)
                bars = json.loads((folder[0] / "metrics.json").read_text())["bars"]
                rows = len(pd.read_csv(folder[0] / "equity.csv"))
                seen.append((state, last, bars, rows))
            else:
                seen.append(None)
            decided.append(event.time.strftime("%Y-%m-%dT%H:%M:%SZ"))

    bus.subscribe(watch)
    result = run_live(loaded, build_strategy(loaded), until=dt.date(2020, 10, 5), bus=bus)
    assert len(decided) == result.decisions >= 4
    assert seen[0] is None  # nothing decided yet, nothing written yet
    for i in range(1, len(decided)):
        assert seen[i] == ("running", decided[i - 1], i, i), i
    state, last = header(result.folder / "report.html")
    assert (state, last) == ("stopped: reached --until 2020-10-05", decided[-1])
    for name in FILES:
        assert (result.folder / name).is_file(), name
    assert not list(result.folder.glob("*.tmp")) and not list(result.folder.glob(".*.tmp"))


def test_a_five_day_window_shows_no_annualised_figure(tmp_path: Path) -> None:
    loaded = load_config(FLAGSHIP, [f"runs_dir={tmp_path}", *LIVE])
    live = run_live(loaded, build_strategy(loaded), until=dt.date(2020, 10, 5)).folder
    backtest = run_backtest(load_config(FLAGSHIP, [f"runs_dir={tmp_path}",
                                                   "data.start=2020-10-01",
                                                   "data.end=2020-10-05"])).folder
    for folder in (live, backtest):
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["total_return"] is not None
        assert all(metrics[k] is None for k in ANNUALISED), folder.name
        assert metrics["not_annualised"] == "too short to annualise: 4 days < 90"
        for bench in metrics["benchmarks"].values():
            assert bench["cagr"] is None
        html = (folder / "report.html").read_text()
        cells = re.findall(r'<tr data-key="(cagr|sharpe|calmar|volatility|sortino)"[^>]*>'
                           r"<th>[^<]*</th><td>([^<]*)</td>", html)
        assert sorted(k for k, _ in cells) == sorted(ANNUALISED)
        assert {shown for _, shown in cells} == {TOO_SHORT}
        assert "%" not in " ".join(shown for _, shown in cells)


def test_a_refresh_failure_never_stops_trading(tmp_path: Path) -> None:
    """report.html replaced by a folder: no report can be written, the run trades on."""
    loaded = load_config(FLAGSHIP, [f"runs_dir={tmp_path}", *LIVE])
    bus = ev.EventBus()

    def break_report(event: ev.LiveEvent) -> None:
        if isinstance(event, ev.Started):
            (event.folder / "report.html").mkdir()

    bus.subscribe(break_report)
    result = run_live(loaded, build_strategy(loaded), until=dt.date(2020, 10, 4), bus=bus)
    assert result.decisions == 4
    assert result.stop_reason == "reached --until 2020-10-04"
    assert json.loads((result.folder / "metrics.json").read_text())["bars"] == 4
    assert "review files of" in (result.folder / "run.log").read_text()
