"""``papertrade study`` on the bundled data: forward returns recomputed independently in pandas
from the raw CSVs, events equal to the backtest's own, edge cases, bad input, ``runs``.

One flagship study (few placebos: the statistics are tested on synthetic data elsewhere) is
shared by the module.
"""

from __future__ import annotations

import functools
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_harness import assert_one_line_error, run_cli
from tests.conftest import FLAGSHIP

DATASETS = Path(__file__).resolve().parents[2] / "papertrade" / "datasets"
EXAMPLE = DATASETS.parents[1] / "docs" / "examples" / "sma_cross.yaml"
HORIZONS = [7, 30, 90, 180, 365]
FAST = ["--placebos", "500", "--bootstrap", "100"]


def study(capsys: pytest.CaptureFixture[str], runs: Path, *args: str,
          config: Path = FLAGSHIP) -> Path:
    result = run_cli(["study", str(config), "--set", f"runs_dir={runs}", *args], capsys,
                     limit=60)
    assert result.code == 0, result.err[-2000:]
    line = result.out.strip().splitlines()[-1]
    assert line.startswith("study: "), result.out[-500:]
    return Path(line.removeprefix("study: "))


@pytest.fixture(scope="module")
def flagship_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flagship study through the CLI (a module fixture cannot take capsys: call main)."""
    from papertrade import cli

    runs = tmp_path_factory.mktemp("study-runs")
    cli.main(["study", str(FLAGSHIP), "--set", f"runs_dir={runs}", *FAST, "--no-report"])
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith("_")]
    return folder


@functools.cache
def raw(symbol: str) -> pd.DataFrame:
    """A bundled CSV as written: plain pandas, no papertrade code."""
    frame = pd.read_csv(DATASETS / f"{symbol.replace('/', '-')}.csv", parse_dates=["date"])
    return frame.set_index("date").sort_index()


def expected_cells(symbol: str, event_date: pd.Timestamp, last_decision: pd.Timestamp,
                   horizon: int) -> tuple[float, float]:
    """(forward return, max drawdown) by the documented rule, from the raw CSV by dates.

    Decision at the close of bar D, i.e. D+1 00:00 UTC. Crypto: entry at the open of the first
    bar dated D+1..D+3 (max staleness 2 days), exit at the close of the bar dated D+h. RUT: a
    session closes at 16:00 New York on its date, before D+1 00:00 UTC; entry at the open of
    the first session dated D+1..D+8 (7 days), exit at the close of the last session dated
    <= D+h. Data ends with the last bar closed by the last decision time.
    """
    bars = raw(symbol)
    t = (event_date + pd.Timedelta(days=1)).tz_localize("UTC")
    until = t + pd.Timedelta(days=horizon)
    crypto = "/" in symbol
    if crypto:
        closes_at = (bars.index + pd.Timedelta(days=1)).tz_localize("UTC")
    else:
        closes_at = (bars.index + pd.Timedelta(hours=16)).tz_localize(
            "America/New_York").tz_convert("UTC")
    known = bars[closes_at <= last_decision]
    known_close_at = closes_at[closes_at <= last_decision]
    if known.empty or until > known_close_at[-1]:
        return math.nan, math.nan
    wait = 2 if crypto else 7
    after = known[(known.index >= event_date + pd.Timedelta(days=1))
                  & (known.index <= event_date + pd.Timedelta(days=1 + wait))]
    if after.empty:
        return math.nan, math.nan
    entry_day = after.index[0]
    window = known[(known.index >= entry_day) & (known.index <= event_date
                                                 + pd.Timedelta(days=horizon))]
    if window.empty:
        return math.nan, math.nan
    entry = float(after["open"].iloc[0])
    path = pd.concat([pd.Series([entry]), window["close"].reset_index(drop=True)])
    drawdown = float((path / path.cummax()).min() - 1)
    return float(window["close"].iloc[-1]) / entry - 1, drawdown


def test_forward_returns_match_pandas_on_the_raw_csvs(flagship_study: Path) -> None:
    events = pd.read_csv(flagship_study / "events.csv")
    manifest = json.loads((flagship_study / "manifest.json").read_text())
    symbols = manifest["study"]["symbols"]
    assert symbols[:2] == ["BTC/USDT", "ETH/USDT"] and symbols[-1] == "RUT"
    last_decision = (pd.Timestamp(manifest["end"]) + pd.Timedelta(days=1)).tz_localize("UTC")
    checked = empty = 0
    for _, row in events.iterrows():
        date = pd.Timestamp(row["date"])
        assert row["time"] == f"{date + pd.Timedelta(days=1):%Y-%m-%d}T00:00:00Z"
        for symbol in symbols:
            for h in HORIZONS:
                ret, dd = expected_cells(symbol, date, last_decision, h)
                got, got_dd = row[f"{symbol}:{h}d"], row[f"{symbol}:{h}d:maxdd"]
                if math.isnan(ret):
                    assert math.isnan(got) and math.isnan(got_dd), (symbol, h, row["date"])
                    empty += 1
                    continue
                assert got == pytest.approx(ret, rel=1e-12, abs=1e-12), (symbol, h, row["date"])
                assert got_dd == pytest.approx(dd, rel=1e-12, abs=1e-12), (symbol, h)
                assert got_dd <= 0
                checked += 1
    assert checked > 500 and empty > 20  # SOL/AVAX not listed in 2017; late events incomplete


def test_events_are_the_backtests_own(flagship_study: Path, flagship_run: Path) -> None:
    events = pd.read_csv(flagship_study / "events.csv")
    signals = pd.read_csv(flagship_run / "signals.csv")
    for kind in ("breakout", "exit", "rotate"):
        ours = events.loc[events["event"] == kind, "date"].tolist()
        theirs = signals.loc[signals["event"] == kind, "date"].tolist()
        assert ours == theirs and ours, kind
    assert list(events.columns[:4]) == ["date", "time", "event", "incomplete"]
    assert "BTC/USDT:90d" in events.columns and "RUT:365d:maxdd" in events.columns


def test_summary_counts_and_incomplete_horizons(flagship_study: Path) -> None:
    summary = pd.read_csv(flagship_study / "summary.csv", keep_default_na=False,
                          na_values=[""])
    events = pd.read_csv(flagship_study / "events.csv", keep_default_na=False, na_values=[""])
    btc = summary[(summary["symbol"] == "BTC/USDT") & (summary["event"] == "breakout")]
    assert btc["horizon"].tolist() == HORIZONS
    breakouts = events[events["event"] == "breakout"]
    for _, r in btc.iterrows():
        values = breakouts[f"BTC/USDT:{r['horizon']}d"].dropna()
        assert r["events"] == len(breakouts)
        assert r["complete"] == len(values)
        assert r["mean"] == pytest.approx(values.mean())
        assert r["hit_rate"] == pytest.approx((values > 0).mean())
        assert r["complete"] + r["incomplete"] + r["unavailable"] == r["events"]
        drops = breakouts[f"BTC/USDT:{r['horizon']}d:maxdd"].dropna()
        assert r["mean_maxdd"] == pytest.approx(drops.mean())
        assert r["worst_maxdd"] == pytest.approx(drops.min())
    late = btc[btc["horizon"] == 365].iloc[0]
    assert late["incomplete"] >= 1 and "runs past the data" in late["note"]
    last = breakouts.iloc[-1]
    assert "365d" in last["incomplete"] and math.isnan(last["BTC/USDT:365d"])
    assert ((summary["placebo_p"] > 0) & (summary["placebo_p"] <= 1)).all() | summary[
        "placebo_p"].isna().all()
    assert (summary["placebos"] == 500).all()
    # any day: every decision time with a complete horizon, from the raw closes by hand
    closes = raw("BTC/USDT")
    t7 = btc[btc["horizon"] == 7].iloc[0]
    dates = closes.index[closes.index <= pd.Timestamp("2026-03-03") - pd.Timedelta(days=7)]
    fwd = [closes["close"].get(d + pd.Timedelta(days=7)) / closes["open"].get(
        d + pd.Timedelta(days=1)) - 1 for d in dates]
    assert t7["any_n"] == len(fwd)
    assert t7["any_mean"] == pytest.approx(float(np.mean(fwd)), rel=1e-9)
    # and the forward maximum drawdown within 30 days after any day
    t30 = btc[btc["horizon"] == 30].iloc[0]
    drops = []
    for d in closes.index[closes.index <= pd.Timestamp("2026-03-03") - pd.Timedelta(days=30)]:
        window = closes.loc[d + pd.Timedelta(days=1):d + pd.Timedelta(days=30), "close"]
        path = np.concatenate(([closes.loc[d + pd.Timedelta(days=1), "open"]], window))
        drops.append(float(np.min(path / np.maximum.accumulate(path)) - 1))
    assert t30["any_mean_maxdd"] == pytest.approx(float(np.mean(drops)), rel=1e-9)


def test_zero_events_is_a_result_not_a_crash(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    """docs/examples/sma_cross.py decides weights only: it reports no events at all."""
    folder = study(capsys, tmp_path, *FAST, config=EXAMPLE)
    summary = pd.read_csv(folder / "summary.csv")
    assert (summary["events"] == 0).all() and (summary["note"] == "no events: nothing to measure"
                                                ).all()
    assert pd.read_csv(folder / "events.csv").empty
    verdict = json.loads((folder / "manifest.json").read_text())["verdict"]
    assert "no 'event' events" in next(iter(verdict.values()))
    html = (folder / "report.html").read_text()
    assert "nothing to draw" in html and "no &#x27;event&#x27; events" in html


def test_a_kind_absent_from_the_window_has_zero_events(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    folder = study(capsys, tmp_path, *FAST, "--event", "breakout", "--start", "2022-01-01",
                   "--end", "2022-06-30")
    assert pd.read_csv(folder / "events.csv").empty
    assert "no 'breakout' events" in json.loads(
        (folder / "manifest.json").read_text())["verdict"]["breakout"]


def test_a_horizon_longer_than_the_data(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    folder = study(capsys, tmp_path, *FAST, "--event", "breakout", "--horizons", "7,1500",
                   "--start", "2023-01-01")
    summary = pd.read_csv(folder / "summary.csv")
    long = summary[summary["horizon"] == 1500]
    assert (long["complete"] == 0).all() and (long["incomplete"] == long["events"]).all()
    assert long["note"].str.contains("no complete horizon").all()
    assert long["mean"].isna().all() and long["placebo_p"].isna().all()
    verdict = json.loads((folder / "manifest.json").read_text())["verdict"]["breakout"]
    assert "1500 days: no event has 1500 days of data after it" in verdict
    assert "1500 d" in (folder / "report.html").read_text()


@pytest.mark.parametrize(("args", "fragment"), [
    (["--horizons", "7,abc"], "--horizons"),
    (["--horizons", "0"], "--horizons"),
    (["--placebos", "-1"], "--placebos"),
    (["--event", "breakuot"], "did you mean 'breakout'?"),
    (["--start", "2024-01-01", "--end", "2023-01-01"], "--start"),
    (["--start", "yesterday"], "--start"),
])
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      args: list[str], fragment: str) -> None:
    result = run_cli(["study", str(FLAGSHIP), "--set", f"runs_dir={tmp_path}", *args], capsys)
    assert_one_line_error(result, 2, fragment)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing written


def test_runs_list_show_report_understand_a_study(capsys: pytest.CaptureFixture[str],
                                                  flagship_study: Path) -> None:
    runs = flagship_study.parent
    listed = run_cli(["runs", "list", "--runs-dir", str(runs), "--mode", "study"], capsys)
    assert listed.code == 0 and flagship_study.name in listed.out
    assert "study" in listed.out and "finished" in listed.out
    live = run_cli(["runs", "list", "--runs-dir", str(runs), "--mode", "live"], capsys)
    assert flagship_study.name not in live.out
    shown = run_cli(["runs", "show", flagship_study.name, "--runs-dir", str(runs)], capsys)
    assert shown.code == 0, shown.err
    assert "[breakout]" in shown.out and "BTC/USDT after 'breakout'" in shown.out
    assert "missing" not in shown.out
    written = run_cli(["runs", "report", flagship_study.name, "--runs-dir", str(runs)], capsys)
    assert written.code == 0, written.err
    html = (flagship_study / "report.html").read_text()
    assert "Event study" in html and "id='verdict-breakout'" in html


def test_rut_entry_waits_for_the_next_session() -> None:
    """A Friday RUT close (20:00-21:00 UTC) is before a crypto decision at Saturday 00:00 UTC;
    the first RUT price that decision can act on is Monday's open."""
    from papertrade.config import load_config
    from papertrade.research.study_events import Prices
    from papertrade.runner import build_strategy, load_history

    bars = raw("RUT")
    loaded = load_config(FLAGSHIP, [])
    history, _ = load_history(loaded, build_strategy(loaded))
    rut = Prices.of(history, "RUT")
    saturday = pd.Timestamp("2024-03-09T00:00:00Z").value
    friday_evening = pd.Timestamp("2024-03-08T20:00:00Z").value
    rows = rut.entry_rows(np.array([saturday, friday_evening], dtype=np.int64))
    assert rut.open[rows[0]] == bars.loc["2024-03-11", "open"]
    assert rut.open[rows[1]] == bars.loc["2024-03-11", "open"]


def test_an_event_on_the_first_bar_is_flagged(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    """The RUT broke out on 2020-11-13; a window starting a week later begins in the market,
    so the strategy's first decision is a 'breakout' that only marks the window's start."""
    folder = study(capsys, tmp_path, *FAST, "--start", "2020-11-20", "--end", "2021-06-30")
    events = pd.read_csv(folder / "events.csv")
    assert events.iloc[0][["date", "event"]].tolist() == ["2020-11-20", "breakout"]
    assert not math.isnan(events.iloc[0]["BTC/USDT:7d"])  # measured like any other
    flag = "is on the window's first bar"
    summary = pd.read_csv(folder / "summary.csv")
    assert summary.loc[summary["event"] == "breakout", "note"].str.contains(flag).all()
    assert not summary.loc[summary["event"] != "breakout", "note"].fillna("").str.contains(
        flag).any()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert flag in manifest["verdict"]["breakout"]
    assert flag in html.unescape((folder / "report.html").read_text())


def test_the_folders_config_repeats_the_study(capsys: pytest.CaptureFixture[str],
                                              flagship_study: Path) -> None:
    """config.yaml is the effective config: with the same options it gives the same folder
    hash and the same summary, byte for byte."""
    again = study(capsys, flagship_study.parent, *FAST, "--no-report",
                  config=flagship_study / "config.yaml")
    assert again != flagship_study
    assert again.name.rsplit("-", 1)[1] == flagship_study.name.rsplit("-", 1)[1]
    for name in ("summary.csv", "events.csv"):
        assert (again / name).read_bytes() == (flagship_study / name).read_bytes()
