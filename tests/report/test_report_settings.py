"""Review shows the settings: ``runs compare`` leads with what differs, runs are named by it,
``runs list --show`` adds a setting as a column, ``runs list``/``runs show`` fit 80 columns,
``runs show`` states the data's last bar per symbol. Real backtests through the CLI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_fixtures import FLAGSHIP, papertrade

from papertrade.report.listing import scan

WINDOW = ["--start", "2021-01-01", "--end", "2021-12-31", "--no-report"]


@pytest.fixture(scope="module")
def two_variants(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(runs folder, run with exit.ma_days 50, run with 100): otherwise identical."""
    runs = tmp_path_factory.mktemp("variants")
    folders = []
    for ma_days in (50, 100):
        done = papertrade("backtest", str(FLAGSHIP), *WINDOW, "--set", f"runs_dir={runs}",
                          "--set", f"strategy.params.exit.ma_days={ma_days}")
        assert done.returncode == 0, done.stderr
        folders.append(Path(done.stdout.split("run folder:")[1].split()[0]))
    return runs, folders[0], folders[1]


def test_compare_prints_the_differing_setting_first(two_variants: tuple[Path, Path, Path],
                                                    tmp_path: Path) -> None:
    runs, fifty, hundred = two_variants
    out = tmp_path / "cmp.html"
    done = papertrade("runs", "compare", fifty.name, hundred.name, "--runs-dir", str(runs),
                      "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("settings that differ (1)")
    (row,) = [i for i, line in enumerate(lines) if "strategy.params.exit.ma_days" in line]
    assert row <= 2 and lines[row].split() == ["strategy.params.exit.ma_days", "50", "100"]
    first_metric = next(i for i, line in enumerate(lines) if "Total return" in line)
    assert row < first_metric
    assert "#1 exit.ma_days=50" in done.stdout and "#2 exit.ma_days=100" in done.stdout

    html = out.read_text()
    figure = json.loads(re.search(r'id="fig-compare">(.*?)</script>', html).group(1))  # type: ignore[union-attr]
    assert [trace["name"] for trace in figure["data"]] == ["exit.ma_days=50",
                                                            "exit.ma_days=100"]
    settings = re.search(r'<table id="compare-settings">.*?</table>', html, re.S)
    assert settings is not None and "strategy.params.exit.ma_days" in settings.group(0)
    assert html.index('id="compare-settings"') < html.index('id="compare-metrics"')


def test_list_shows_a_chosen_setting_as_a_column(two_variants: tuple[Path, Path, Path]) -> None:
    runs, fifty, hundred = two_variants
    done = papertrade("runs", "list", "--runs-dir", str(runs), "--show",
                      "strategy.params.exit.ma_days", "--show", "data.end", columns=None)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[-3:] == ["exit.ma_days", "data.end", "note"]
    for folder, ma_days in ((fifty, "50"), (hundred, "100")):
        (line,) = [x for x in lines if x.startswith(folder.name)]
        assert line.split()[-2:] == [ma_days, "2021-12-31"]


def first_column(lines: list[str], width: int) -> list[str]:
    """The run ids of an 80-column ``runs list``, re-joined from their wrapped pieces."""
    ids: list[str] = []
    for line in lines:
        piece = line[:width].strip()
        if re.match(r"\d{8}T\d{6}Z", piece):
            ids.append(piece)
        elif piece and ids:
            ids[-1] += piece
    return ids


def test_list_and_show_fit_80_columns(two_variants: tuple[Path, Path, Path],
                                      fixture_runs: Path) -> None:
    for runs in (two_variants[0], fixture_runs):
        done = papertrade("runs", "list", "--runs-dir", str(runs), columns=80)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80, done.stdout
        titles = re.split(r"\s{2,}", lines[0].strip())
        assert titles[:1] == ["run id"] and {"status", "return"} <= set(titles)
        assert "note" not in titles and "mode" not in titles  # the least useful went first
        second = lines[0].index(titles[1])
        headers = scan(runs)
        summary = next(i for i, line in enumerate(lines)
                       if line.startswith(f"{len(headers)} run(s) in "))
        assert sorted(first_column(lines[1:summary], second)) == sorted(h.run_id
                                                                        for h in headers)

    runs, fifty, _ = two_variants
    done = papertrade("runs", "show", fifty.name, "--runs-dir", str(runs), columns=80)
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 80, done.stdout
    assert "data (last bar of each symbol's source)" in done.stdout
    manifest = json.loads((fifty / "manifest.json").read_text())
    for symbol, origin in manifest["data"].items():
        (line,) = [x for x in done.stdout.splitlines() if x.strip().startswith(origin["last"])]
        assert origin["source"] in line
        assert symbol in done.stdout.split(origin["last"], 1)[1].split("\n 20")[0]
