"""report.html in headless Chromium, offline: no errors, every chart drawn, figures right.

The flagship report comes from a real ``papertrade backtest`` (which writes it at the end);
the live ones from a real ``papertrade live`` emulator run, and from a fixture emulator run
whose journal writer stays open meanwhile (reading must not block it).
``PAPERTRADE_SCREENSHOT=docs/report-screenshot.png`` also saves the flagship's screenshot.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import FixtureRun

from papertrade.report import write_report
from papertrade.report.formatting import fmt_in
from papertrade.runfolder import read_header, resolve_run
from papertrade.runfolder.settings import read_settings, run_labels

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CHART_KEYS = ["equity", "drawdown", "allocation", "signal", "monthly"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's chromium at /usr/bin/chromium "
                              "(apt-get install -y chromium)"),
]

ALL_DRAWN = ("[...document.querySelectorAll('.chart')]"
             ".every(e => e.dataset.drawn === '1')")
CHART_STATS = """[...document.querySelectorAll('.chart')].map(e => ({
  id: e.id,
  svgs: e.querySelectorAll('svg.main-svg').length,
  traces: e.querySelectorAll('.cartesianlayer g.trace').length,
  lines: [...e.querySelectorAll('path.js-line')]
           .filter(p => (p.getAttribute('d') || '').length > 20).length,
  points: e.querySelectorAll('.points path.point').length,
  images: [...e.querySelectorAll('g.hm image')]
           .filter(i => (i.getAttribute('href') || '').length > 100).length,
  data: e.data.length,
}))"""


@dataclass
class Loaded:
    """A page that finished drawing, and everything it complained about or fetched."""

    page: Any
    errors: list[str] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def open_report(browser: Any, path: Path, wait: bool = True) -> Loaded:
    """Open ``path`` from file:// with the network emulated off and every http(s) refused."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    loaded = Loaded(page)
    page.on("console", lambda m: loaded.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: loaded.errors.append(f"pageerror: {e}"))

    def refuse(route: Any) -> None:
        loaded.remote.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^(https?|wss?)://"), refuse)
    page.goto(path.resolve().as_uri())
    if wait:
        page.wait_for_function(ALL_DRAWN, timeout=60_000)
    return loaded


def screenshot_if_asked(page: Any, env: str, **options: Any) -> None:
    """Save a screenshot of the fully drawn page where the environment variable ``env`` says
    (how the README's screenshots are taken); nothing otherwise."""
    target = os.environ.get(env)
    if not target:
        return
    page.reload()
    page.wait_for_function("[...document.querySelectorAll('.chart')]"
                           ".every(e => e.dataset.drawn === '1')")
    page.mouse.move(0, 0)
    page.wait_for_timeout(800)
    page.screenshot(path=target, full_page=True, **options)


def as_number(text: str) -> float:
    """Parse a figure as shown (``1,494.79 %``, ``60,505.68 USDT``, ``27.07×``)."""
    number = float(re.sub(r"[^\d.\-eE]", "", text.replace("−", "-")))
    return number / 100 if text.strip().endswith("%") else number


def check_metrics_table(page: Any, metrics: dict[str, Any], quote: str) -> int:
    """Every metrics.json figure is in the DOM, formatted, and parses back to its value."""
    shown = dict(page.eval_on_selector_all(
        "#metrics tr[data-key]",
        "rows => rows.map(r => [r.dataset.key, r.querySelector('td').innerText])",
    ))
    shown.update(dict(page.eval_on_selector_all(
        "#benchmarks td[data-key]", "cells => cells.map(c => [c.dataset.key, c.innerText])"
    )))
    expected = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    for name, values in metrics.get("benchmarks", {}).items():
        expected.update({f"benchmarks.{name}.{k}": v for k, v in values.items()})
    checked = 0
    short = bool(metrics.get("not_annualised"))
    for key, value in expected.items():
        assert key in shown, f"{key} not shown"
        leaf = key.rsplit(".", 1)[-1]
        assert shown[key] == fmt_in({leaf: value}, leaf, quote, short=short), key
        if isinstance(value, int | float) and not isinstance(value, bool):
            decimals = len(shown[key].split(".")[1].rstrip(" %USDT×d")) if "." in shown[key] else 0
            scale = 100 if shown[key].endswith("%") else 1
            tolerance = 0.5 * 10 ** -decimals / scale + 1e-12
            assert math.isclose(as_number(shown[key]), value, abs_tol=tolerance), key
        checked += 1
    return checked


def check_charts(loaded: Loaded, expected: list[str]) -> None:
    stats = {s["id"]: s for s in loaded.page.evaluate(CHART_STATS)}
    assert sorted(stats) == sorted(f"chart-{k}" for k in expected)
    for chart_id, s in stats.items():
        assert s["svgs"] >= 1, chart_id
        assert s["lines"] + s["points"] + s["images"] > 0, (chart_id, s)
        if chart_id != "chart-monthly":
            assert s["traces"] == s["data"], (chart_id, s)
    assert loaded.errors == []
    assert loaded.remote == []


def check_equity_series(page: Any, metrics: dict[str, Any]) -> None:
    first, last, end_value = page.evaluate(
        "(() => { const t = document.getElementById('chart-equity')._fullData[0];"
        " return [t.x[0], t.x[t.x.length - 1], t.y[t.y.length - 1]]; })()"
    )
    assert (first, last) == (metrics["start"], metrics["end"])
    assert math.isclose(end_value, metrics["end_equity"], rel_tol=1e-6)


def test_flagship_backtest_report(browser: Any, real_backtest: Path) -> None:
    report = real_backtest / "report.html"
    assert report.is_file(), "papertrade backtest must write report.html at the end"
    metrics = json.loads((real_backtest / "metrics.json").read_text())
    quote = json.loads((real_backtest / "manifest.json").read_text())["quote"]
    loaded = open_report(browser, report)
    page = loaded.page
    check_charts(loaded, CHART_KEYS)
    assert check_metrics_table(page, metrics, quote) >= 20
    check_equity_series(page, metrics)
    markers = page.evaluate("document.getElementById('chart-signal').data"
                            ".filter(t => t.mode === 'markers').map(t => t.name)")
    assert {"breakout", "exit"} <= set(markers)
    shaded = page.evaluate("document.querySelectorAll('#chart-signal .shapelayer path').length")
    assert shaded > 0
    rows = page.eval_on_selector_all("#trades tbody tr", "rows => rows.length")
    assert rows == min(metrics["trades"], 2000)
    reasons = page.eval_on_selector_all("#decisions tbody tr td:nth-child(2)",
                                        "cells => cells.map(c => c.innerText)")
    assert any("→" in r for r in reasons)
    page.click("#chart-equity .updatemenu-button >> text=log")
    page.wait_for_function("document.getElementById('chart-equity').layout.yaxis.type === 'log'")
    assert loaded.errors == []
    target = os.environ.get("PAPERTRADE_SCREENSHOT")
    if target:
        page.click("#chart-equity .updatemenu-button >> text=linear")
        page.mouse.move(0, 0)
        page.wait_for_timeout(800)
        page.screenshot(path=target, full_page=True)


def test_live_emulator_report_while_its_writer_is_open(browser: Any,
                                                       live_run: FixtureRun) -> None:
    loaded = open_report(browser, write_report(live_run.path))
    check_charts(loaded, CHART_KEYS)
    assert check_metrics_table(loaded.page, live_run.metrics, "USDT") >= 20
    check_equity_series(loaded.page, live_run.metrics)
    assert loaded.page.inner_text(".facts .status") == "running"
    assert "current positions at" in loaded.page.inner_text("#positions caption")


def test_real_live_emulator_run_report(browser: Any, real_live_run: Path) -> None:
    """The report a live run wrote itself (emulator mode) renders like a backtest's."""
    metrics = json.loads((real_live_run / "metrics.json").read_text())
    assert metrics["trades"] > 5 and metrics["round_trips"] > 0
    loaded = open_report(browser, real_live_run / "report.html")
    check_charts(loaded, CHART_KEYS)
    assert check_metrics_table(loaded.page, metrics, "USDT") >= 20
    check_equity_series(loaded.page, metrics)
    assert loaded.page.inner_text(".facts .status") == "finished"
    assert loaded.page.inner_text("#live-state") == "stopped: reached --until 2021-01-15"
    assert loaded.page.inner_text("#last-decision") == "2021-01-16T00:00:00Z"
    # 75 days: nothing annualised, and the page says so
    assert loaded.page.inner_text("#metrics tr[data-key='cagr'] td") == "too short to annualise"


def test_a_live_report_written_mid_run_renders(browser: Any, tmp_path_factory: Any) -> None:
    """The report as it stands after a decision of a running live run (read twice: after
    the 4th decision, the first holding a position, and after the 5th) draws every chart and
    shows the run as running and its latest decision."""
    import datetime as dt

    from papertrade.config import load_config
    from papertrade.live import events as ev
    from papertrade.live.session import run_live
    from papertrade.runner import build_strategy

    runs = tmp_path_factory.mktemp("mid-run")
    config = Path(__file__).resolve().parents[2] / "configs" / "rut_breakout_rotation.yaml"
    loaded = load_config(config, [f"runs_dir={runs}", "broker.mode=emulator",
                                  "broker.emulator.start=2020-11-10",
                                  "live.decision_delay_seconds=0"])
    bus = ev.EventBus()
    shown: list[tuple[str, str, list[str]]] = []
    decisions: list[str] = []

    def read(event: ev.LiveEvent) -> None:
        if isinstance(event, ev.Decision):
            decisions.append(event.time.strftime("%Y-%m-%dT%H:%M:%SZ"))
        if isinstance(event, ev.Decision) and len(decisions) in (5, 6):
            folder = next(p for p in runs.iterdir() if not p.name.startswith("_"))
            page = open_report(browser, folder / "report.html")
            check_charts(page, CHART_KEYS)
            shown.append((page.page.inner_text("#live-state"),
                          page.page.inner_text("#last-decision"), page.errors))
            page.page.context.close()

    bus.subscribe(read)
    run_live(loaded, build_strategy(loaded), until=dt.date(2020, 11, 15), bus=bus)
    assert shown == [("running", decisions[3], []), ("running", decisions[4], [])]


def test_old_and_crashed_runs_render_with_notes(browser: Any, runs_copy: Path) -> None:
    drawable = ["equity", "drawdown", "allocation", "monthly"]  # no signals.csv in either
    expected = {"old-run": ("journal.sqlite missing (written by an older papertrade)",
                            {"chart-signal-missing"}),
                "crashed-run": ("metrics.json missing (the run crashed before writing it)",
                                {"chart-signal-missing", "metrics-missing"})}
    for name, (note, missing) in expected.items():
        loaded = open_report(browser, write_report(resolve_run(name, runs_copy)))
        check_charts(loaded, drawable)
        assert note in loaded.page.inner_text("#notes")
        shown = loaded.page.eval_on_selector_all(".missing", "els => els.map(e => e.id)")
        assert set(shown) == missing


def test_a_report_moved_without_its_assets_says_how_to_fix_it(browser: Any,
                                                              real_backtest: Path,
                                                              tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "report.html"
    moved.parent.mkdir()
    shutil.copy(real_backtest / "report.html", moved)
    loaded = open_report(browser, moved, wait=False)
    page = loaded.page
    page.wait_for_selector("#plotly-missing", state="visible", timeout=10_000)
    assert "papertrade runs report RUN --inline" in page.inner_text("#plotly-missing")
    assert page.eval_on_selector_all(".chart[data-drawn]", "els => els.length") == 0
    assert all("ERR_FILE_NOT_FOUND" in e for e in loaded.errors)


def test_compare_page_draws_every_run(browser: Any, fixture_runs: Path, real_backtest: Path,
                                      tmp_path: Path) -> None:
    from papertrade.report.html import write_compare

    runs = [real_backtest, resolve_run("rut-breakout-rotation", fixture_runs),
            resolve_run("old-run", fixture_runs)]
    page_path = write_compare(runs, tmp_path / "_compare" / "cmp.html", tmp_path)
    loaded = open_report(browser, page_path)
    check_charts(loaded, ["compare"])
    names = loaded.page.evaluate("document.getElementById('chart-compare').data.map(t => t.name)")
    labels = run_labels([read_header(p) for p in runs], [read_settings(p)[0] for p in runs])
    assert names == labels and len(set(names)) == len(runs)  # named by what differs
    header = loaded.page.eval_on_selector_all("#compare-metrics thead th",
                                              "cells => cells.map(c => c.innerText)")
    assert header[0] == "metric"
    assert [cell.splitlines() for cell in header[1:]] == [
        [name, p.name] for name, p in zip(names, runs, strict=True)]


def test_report_configuration_lists_every_setting(browser: Any, real_backtest: Path) -> None:
    """Every strategy parameter (defaults included), the broker, the data range and risk are
    shown with their values, and each symbol's source with its last bar."""
    import yaml

    from papertrade.runfolder.settings import flatten, format_value
    from papertrade.strategies import get_strategy

    loaded = open_report(browser, real_backtest / "report.html")
    page = loaded.page
    assert page.is_visible("text=Configuration") and page.is_visible("#settings-strategy")
    shown = dict(page.eval_on_selector_all(
        "table.settings tr[data-key]",
        "rows => rows.map(r => [r.dataset.key, r.querySelector('td').innerText])"))
    written = flatten(yaml.safe_load((real_backtest / "config.yaml").read_text()))
    assert shown == {key: format_value(value) for key, value in written.items()}
    strategy = get_strategy("rut_breakout_rotation", "<test>")
    params = flatten(strategy.Params().model_dump(mode="json"), "strategy.params.")
    assert len(params) >= 15 and set(params) <= set(shown)
    assert shown["strategy.params.exit.ma_days"] == "50"
    for key in ("broker.cash", "broker.fee_bps", "broker.slippage_bps", "data.start",
                "data.end", "risk.max_order_notional", "risk.kill_drawdown"):
        assert key in shown, key
    metrics = json.loads((real_backtest / "metrics.json").read_text())
    assert shown["data.end"] == metrics["end"]
    origins = json.loads((real_backtest / "manifest.json").read_text())["data"]
    rows = page.eval_on_selector_all(
        "#data-origins tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    assert {row[0]: row[3] for row in rows} == {s: o["last"] for s, o in origins.items()}
    assert loaded.errors == []
