"""A sweep's report.html in headless Chromium, offline (the backtest report's checks), and
``runs list/show/compare`` on sweep folders. ``PAPERTRADE_SWEEP_SCREENSHOT=docs/sweep-report.png``
also saves the screenshot the README shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from report_fixtures import FLAGSHIP, papertrade
from test_report_browser import (
    CHART_STATS,
    CHROMIUM,
    Loaded,
    open_report,
    screenshot_if_asked,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]
GRID = ["--grid", "strategy.params.exit.ma_days=20,50,100", "--grid", "broker.fee_bps=5,10",
        "--grid", "strategy.params.rotation.top_k=1,2"]


@pytest.fixture(scope="module")
def browser() -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM),
                                      args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def one_sweep(runs: Path, *argv: str) -> Path:
    done = papertrade("sweep", str(FLAGSHIP), *argv, "--set", f"runs_dir={runs}",
                      "--workers", "2", "--no-progress")
    assert done.returncode == 0, done.stderr
    (folder,) = [p for p in runs.iterdir() if "-sweep-" in p.name]
    return folder


@pytest.fixture(scope="module")
def sweep_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A runs folder with a 12-config sweep and a walk-forward."""
    runs = tmp_path_factory.mktemp("sweeps")
    plain = one_sweep(runs / "a", "--start", "2020-01-01", "--end", "2021-12-31", *GRID)
    walk = one_sweep(runs / "b", "--start", "2020-07-01", "--end", "2021-06-30", "--grid",
                     "strategy.params.exit.ma_days=20,100", "--walk-forward", "6m:3m")
    return runs, plain, walk


def check_drawn(loaded: Loaded, expected: list[str]) -> None:
    stats = {s["id"]: s for s in loaded.page.evaluate(CHART_STATS)}
    assert sorted(stats) == sorted(f"chart-{k}" for k in expected)
    bars = dict(loaded.page.eval_on_selector_all(
        ".chart", "els => els.map(e => [e.id, e.querySelectorAll('.bars path').length])"))
    for chart_id, s in stats.items():
        assert s["svgs"] >= 1, chart_id
        assert s["lines"] + s["points"] + s["images"] + bars[chart_id] > 0, (chart_id, s)
    assert loaded.errors == []
    assert loaded.remote == []


def test_sweep_report(browser: Any, sweep_runs: tuple[Path, Path, Path]) -> None:
    _, folder, _ = sweep_runs
    results = pd.read_csv(folder / "results.csv")
    assert len(results) == 12
    loaded = open_report(browser, folder / "report.html")
    page = loaded.page
    check_drawn(loaded, ["heatmap-0", "heatmap-1", "heatmap-2", "distribution"])
    best = results.sort_values(["sharpe", "config"], ascending=[False, True]).iloc[0]
    first = page.eval_on_selector_all("#top tbody tr:first-child td",
                                      "cells => cells.map(c => c.innerText)")
    assert first[1] == str(best["config"])
    assert first[-1].startswith("papertrade backtest") and "--set broker.fee_bps=" in first[-1]
    assert page.eval_on_selector_all("#top tbody tr", "rows => rows.length") == 12
    assert "best of 12 configs" in page.inner_text("#verdict")
    assert page.eval_on_selector_all("#overfitting tr[data-key='pbo.pbo']", "r => r.length") == 1
    page.click("#chart-heatmap-0 .updatemenu-header")
    page.click("#chart-heatmap-0 .updatemenu-dropdown-button >> text=Total return")
    page.wait_for_function("document.getElementById('chart-heatmap-0')._fullData[1].visible"
                           " === true")
    assert loaded.errors == []
    screenshot_if_asked(page, "PAPERTRADE_SWEEP_SCREENSHOT")


def test_walk_forward_report(browser: Any, sweep_runs: tuple[Path, Path, Path]) -> None:
    _, _, folder = sweep_runs
    folds = pd.read_csv(folder / "folds.csv")
    loaded = open_report(browser, folder / "report.html")
    check_drawn(loaded, ["folds", "oos-equity", "by-key", "distribution"])
    assert loaded.page.eval_on_selector_all("#folds tbody tr", "r => r.length") == len(folds)
    names = loaded.page.evaluate("document.getElementById('chart-folds').data.map(t => t.name)")
    assert names == ["IS", "OOS"]


def test_runs_commands_understand_sweeps(sweep_runs: tuple[Path, Path, Path]) -> None:
    runs, plain, walk = sweep_runs
    listed = papertrade("runs", "list", "--runs-dir", str(runs / "a"))
    assert listed.returncode == 0 and "sweep" in listed.stdout and "finished" in listed.stdout
    shown = papertrade("runs", "show", plain.name, "--runs-dir", str(runs / "a"))
    assert shown.returncode == 0, shown.stderr
    assert "replay: papertrade backtest" in shown.stdout and "overfitting:" in shown.stdout
    assert "journal.sqlite missing" not in shown.stdout
    shown = papertrade("runs", "show", walk.name, "--runs-dir", str(runs / "b"))
    assert "fold 1: train" in shown.stdout and "out of sample (stitched)" in shown.stdout
    metrics = json.loads((walk / "metrics.json").read_text())
    assert metrics["out_of_sample"] is True
    compared = papertrade("runs", "compare", str(plain), str(walk), "--runs-dir", str(runs / "a"))
    assert compared.returncode == 0, compared.stderr
    report = papertrade("runs", "report", plain.name, "--runs-dir", str(runs / "a"))
    assert report.returncode == 0 and "report.html" in report.stdout
