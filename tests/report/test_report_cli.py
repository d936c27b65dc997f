"""``papertrade runs list|show|compare|report`` through the real command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from report_fixtures import FixtureRun, papertrade, write_broken_runs

from papertrade.report.formatting import fmt_metric
from papertrade.report.listing import scan


def test_list_shows_every_run_with_status_and_reason(fixture_runs: Path) -> None:
    done = papertrade("runs", "list", "--runs-dir", str(fixture_runs), columns=None)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()  # piped: one line per run, every column
    assert lines[0].split() == ["run", "id", "mode", "name", "period", "status", "return",
                                "max", "DD", "Sharpe", "trades", "note"]
    headers = scan(fixture_runs)
    for header in headers:
        (line,) = [x for x in lines if x.startswith(header.run_id + " ")]
        assert f" {header.status} " in line
        if header.status == "broken":
            assert header.reason in line
    finished = next(h for h in headers if h.name == "rut-breakout-rotation")
    (line,) = [x for x in lines if x.startswith(finished.run_id)]
    assert finished.metrics is not None
    for key in ("total_return", "max_drawdown", "sharpe", "trades"):
        assert fmt_metric(key, finished.metrics[key]) in line
    assert lines[-1].startswith(f"{len(headers)} run(s) in {fixture_runs}: 7 broken, 1 crashed")


def test_list_filters_and_sorts(fixture_runs: Path) -> None:
    done = papertrade("runs", "list", "--runs-dir", str(fixture_runs), "--status", "finished",
                      "--sort", "return", columns=None)
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()[1:-1]
    assert sorted(r.split()[2] for r in rows) == ["old-run", "rut-breakout-rotation"]
    returns = [float(r.split("%")[0].split()[-1].replace(",", "")) for r in rows]
    assert returns == sorted(returns, reverse=True)
    assert done.stdout.splitlines()[-1].startswith(f"2 of {len(scan(fixture_runs))} run(s)")


def test_bad_input_is_one_line_with_the_fix(fixture_runs: Path) -> None:
    cases = {
        ("runs", "list", "--sort", "retrun"): "error: --sort 'retrun' is unknown; did you mean "
                                              "'return'? use one of: created, return, cagr, "
                                              "sharpe, drawdown, trades, name, id",
        ("runs", "show", "abc"): f"error: no run 'abc' in {fixture_runs}/; "
                                 "`papertrade runs list` shows the ids",
        ("runs", "list", "--mode", "paper"): "error: --mode 'paper' is unknown; use one of: "
                                             "backtest, testnet, demo, dry_run, emulator, "
                                             "study, sweep, live",
    }
    for args, message in cases.items():
        done = papertrade(*args, "--runs-dir", str(fixture_runs))
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.strip() == message


def test_show_explains_the_latest_decisions(fixture_runs: Path) -> None:
    done = papertrade("runs", "show", "rut-breakout-rotation", "--runs-dir", str(fixture_runs),
                      "--decisions", "40")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    finished = next(h for h in scan(fixture_runs) if h.name == "rut-breakout-rotation")
    assert finished.metrics is not None
    for key in ("total_return", "cagr", "sharpe", "max_drawdown", "fees"):
        assert fmt_metric(key, finished.metrics[key], "USDT") in out, key
    for name, values in finished.metrics["benchmarks"].items():
        shown = fmt_metric("total_return", values["total_return"])
        assert re.search(rf"{re.escape(name)}\s+{re.escape(shown)}", out), name
    assert re.search(r"RUT close [\d,]+\.\d\d > prior high [\d,]+\.\d\d → breakout", out)
    assert re.search(r"signal_close=[\d,]+\.\d\d", out)  # one input per line
    assert re.search(r"breakout_level=[\d,]+\.\d\d", out)
    # brackets in journaled text are data, not terminal markup
    assert re.search(r"within \[[\d,.]+, [\d,.]+\] → hold \[in (market|cash)\]", out)
    assert "final positions at" in out
    assert "recent trades (10 of " in out
    assert "order pt-rej-1 rejected: notional 0.01 USDT below the 5 USDT minimum" in out


def test_show_a_crashed_run_says_what_is_missing(fixture_runs: Path) -> None:
    done = papertrade("runs", "show", "crashed-run", "--runs-dir", str(fixture_runs))
    assert done.returncode == 0, done.stderr
    assert "crashed: manifest says running but pid" in done.stdout
    assert "note: metrics.json missing (the run crashed before writing it)" in done.stdout
    assert "latest decisions" in done.stdout  # the journal still explains what it did


def test_show_a_running_live_run(live_run: FixtureRun) -> None:
    done = papertrade("runs", "show", str(live_run.path))
    assert done.returncode == 0, done.stderr
    assert "running" in done.stdout
    assert "current positions at" in done.stdout


def test_show_and_report_a_broken_folder(tmp_path: Path) -> None:
    cases = write_broken_runs(tmp_path)
    for run_id, reason in cases.items():
        if "symlink" in reason:
            continue
        done = papertrade("runs", "show", run_id, "--runs-dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
        assert "note: broken: " in done.stdout
        assert reason in done.stdout
    run_id = next(iter(cases))
    done = papertrade("runs", "report", run_id, "--runs-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    html = (tmp_path / run_id / "report.html").read_text()
    assert "broken: manifest.json missing" in html
    assert 'id="chart-equity-missing"' in html


def test_compare_two_runs(fixture_runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp.html"
    done = papertrade("runs", "compare", "rut-breakout-rotation", "old-run", "failed-run",
                      "--runs-dir", str(fixture_runs), "--out", str(out))
    assert done.returncode == 0, done.stderr
    headers = {h.name: h for h in scan(fixture_runs)}
    for name in ("rut-breakout-rotation", "old-run", "failed-run"):
        metrics = headers[name].metrics
        assert metrics is not None
        assert fmt_metric("total_return", metrics["total_return"]) in done.stdout
    assert done.stdout.strip().endswith(f"equity chart: {out}")
    html = out.read_text()
    figure = json.loads(re.search(r'id="fig-compare">(.*?)</script>', html).group(1))  # type: ignore[union-attr]
    assert len(figure["data"]) == 3
    assert '<script src="_assets/plotly-' in html
    assert (tmp_path / "_assets").is_dir()
    one = papertrade("runs", "compare", "old-run", "--runs-dir", str(fixture_runs))
    assert one.returncode == 2
    assert "compare needs two or more runs" in one.stderr


def test_report_is_offline_with_a_shared_or_inlined_plotly(runs_copy: Path) -> None:
    done = papertrade("runs", "report", "rut-breakout-rotation", "--runs-dir", str(runs_copy))
    assert done.returncode == 0, done.stderr
    report = Path(done.stdout.strip().removeprefix("report: "))
    html = report.read_text()
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    assert len(sources) == 1
    assert re.fullmatch(r"\.\./_assets/plotly-[\d.]+\.min\.js", sources[0])
    assert (report.parent / sources[0]).resolve().stat().st_size > 1_000_000
    assert not re.search(r'(src|href)="(https?:)?//', html)
    inline = papertrade("runs", "report", "rut-breakout-rotation", "--runs-dir", str(runs_copy),
                        "--inline")
    html = report.read_text()
    assert inline.returncode == 0, inline.stderr
    assert re.findall(r'<script[^>]*\bsrc="([^"]+)"', html) == []
    assert len(html) > 4_000_000


def test_runs_list_does_not_import_pandas_or_plotly(fixture_runs: Path) -> None:
    code = (
        "import sys\n"
        "from papertrade.report.cli import app\n"
        f"app(['list', '--runs-dir', {str(fixture_runs)!r}], standalone_mode=False)\n"
        "heavy = [m for m in ('pandas', 'plotly', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.splitlines()[-1] == "HEAVY []"
