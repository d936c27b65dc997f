"""An event study's report.html in headless Chromium, offline: no errors, every chart drawn,
the dropdowns switch symbols, and a study without events says so instead of drawing.

``PAPERTRADE_STUDY_SCREENSHOT=docs/study-screenshot.png`` also saves the flagship's screenshot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import FLAGSHIP, ROOT, papertrade
from test_report_browser import CHART_STATS, browser, open_report, screenshot_if_asked

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                                 reason="needs Debian's chromium at /usr/bin/chromium")]
__all__ = ["browser"]  # the module fixture, shared with the backtest report's tests


def run_study(runs: Path, *args: str, config: Path = FLAGSHIP) -> Path:
    done = papertrade("study", str(config), "--set", f"runs_dir={runs}", "--placebos", "1000",
                      "--bootstrap", "200", *args)
    assert done.returncode == 0, done.stderr
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith("_")]
    return folder


@pytest.fixture(scope="module")
def flagship_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_study(tmp_path_factory.mktemp("study"))


def test_flagship_study_report(browser: Any, flagship_study: Path) -> None:
    kinds = json.loads((flagship_study / "manifest.json").read_text())["study"]["kinds"]
    assert kinds == ["breakout", "rotate", "exit"]
    loaded = open_report(browser, flagship_study / "report.html")
    page = loaded.page
    stats = {s["id"]: s for s in page.evaluate(CHART_STATS)}
    assert sorted(stats) == sorted(f"chart-{what}-{k}" for k in kinds
                                   for what in ("paths", "placebo"))
    bars = dict(page.eval_on_selector_all(
        ".chart", "els => els.map(e => [e.id, e.querySelectorAll('.barlayer .point path')"
                  ".length])"))
    for chart_id, s in stats.items():
        assert s["svgs"] >= 1, chart_id
        if "-paths-" in chart_id:
            assert s["lines"] >= 8 + 3, (chart_id, s)  # 8 events, their mean, any-day band
        else:
            assert bars[chart_id] >= 5 * 20, (chart_id, bars)  # 5 horizons' histograms
    assert loaded.errors == [] and loaded.remote == []
    verdict = page.inner_text("#verdict-breakout")
    assert "'breakout' events" in verdict and "placebo p =" in verdict
    assert "open of each symbol's first bar" in page.inner_text("#timing")
    rows = page.eval_on_selector_all("#summary-breakout tbody tr", "r => r.length")
    assert rows == 10 * 5  # 9 traded symbols + RUT, 5 horizons
    events = page.eval_on_selector_all("#events-breakout tbody tr", "r => r.length")
    assert events == 8 * 10
    # the paths dropdown switches from BTC/USDT to RUT: other traces become visible
    before = page.evaluate("document.getElementById('chart-paths-breakout').layout.title.text")
    assert before.startswith("BTC/USDT")
    page.click("#chart-paths-breakout .updatemenu-header")
    page.click("#chart-paths-breakout .updatemenu-dropdown-button >> text=RUT")
    page.wait_for_function("document.getElementById('chart-paths-breakout')"
                           ".layout.title.text.startsWith('RUT')")
    assert loaded.errors == []
    screenshot_if_asked(page, "PAPERTRADE_STUDY_SCREENSHOT",
                        clip={"x": 0, "y": 0, "width": 1280, "height": 1500})


def test_a_study_without_events_renders_its_notes(browser: Any, tmp_path: Path) -> None:
    folder = run_study(tmp_path, config=ROOT / "docs" / "examples" / "sma_cross.yaml")
    loaded = open_report(browser, folder / "report.html")
    page = loaded.page
    assert page.eval_on_selector_all(".chart", "els => els.length") == 0
    missing = page.eval_on_selector_all(".missing", "els => els.map(e => e.innerText)")
    assert missing and all("nothing to draw" in m for m in missing)
    assert "no 'event' events" in page.inner_text(".verdict")
    assert loaded.errors == [] and loaded.remote == []
