"""Issue 9, item 2: a signal whose last bar is too old at a decision is missing, not carried.

A RUT CSV with two rows from January 2020 used to drive a 2017-2026 backtest: the as-of join
carried one close for six years, silently. Now every as-of joined value older than its
symbol's ``data.max_staleness`` (default: 7 calendar days for an index, 2 for crypto) is NaN,
and the run warns once per stale span, naming the symbol and the dates.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from csv_backtest import btc_only_config, manifest, raw_rows, run_folders, write_rows

from papertrade.config import load_config
from papertrade.data.bars import default_calendar, read_bundled
from papertrade.data.history import MarketHistory, SymbolBars
from papertrade.data.sources import load_market
from tests.cli_harness import run_cli

STALE = ("WARNING RUT: no bar newer than 7 days at 79 decision(s) 2020-01-11..2020-03-29 "
         "(last bar 2020-01-03); treated as missing there, not carried forward "
         "(data.max_staleness)")


@pytest.fixture
def two_rows(tmp_path: Path) -> Path:
    rows = raw_rows("RUT", "2020-01-02", "2020-01-03")
    assert len(rows) == 2
    return write_rows(tmp_path / "rut_two_rows.csv", rows)


def test_two_rows_from_2020_are_reported_as_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], two_rows: Path
) -> None:
    config = btc_only_config(tmp_path, csv={"RUT": two_rows}, start="2020-01-02",
                             end="2020-03-28")
    result = run_cli(["backtest", str(config), "--no-report"], capsys)
    assert result.code == 0, result.err
    assert STALE in result.err.splitlines()
    (run,) = run_folders(tmp_path)
    rut = manifest(run)["data"]["RUT"]
    assert rut["stale_spans"] == ["2020-01-11..2020-03-29"]
    assert rut["warnings"] == [STALE.removeprefix("WARNING ")]
    assert result.err.splitlines() == [STALE]


def test_the_strategy_sees_a_stale_signal_as_unavailable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], two_rows: Path
) -> None:
    """What the flagship saw: the 2020-01-03 close until the 7 days are up, then nothing."""
    config = btc_only_config(tmp_path, csv={"RUT": two_rows}, start="2020-01-02",
                             end="2020-03-28")
    result = run_cli(["backtest", str(config), "--no-report"], capsys)
    assert result.code == 0, result.err
    (run,) = run_folders(tmp_path)
    signals = pd.read_csv(run / "signals.csv").set_index("date")
    close = signals["signal_close"]
    assert close.loc[:"2020-01-02"].tolist() == [1666.77]
    assert close.loc["2020-01-03":"2020-01-09"].tolist() == [1660.87] * 7
    assert len(close.loc["2020-01-10":]) == 79
    assert close.loc["2020-01-10":].isna().all()


def test_max_staleness_is_configurable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], two_rows: Path
) -> None:
    config = btc_only_config(tmp_path, csv={"RUT": two_rows}, start="2020-01-02",
                             end="2020-03-28")
    result = run_cli(["backtest", str(config), "--no-report",
                      "--set", "data.max_staleness.us_equity=30"], capsys)
    assert result.code == 0, result.err
    assert "no bar newer than 30 days at 56 decision(s) 2020-02-03..2020-03-29" in result.err
    bad = run_cli(["validate", str(config), "--set", "data.max_staleness.us_equity=0"], capsys)
    assert bad.code == 2
    assert "data.max_staleness.us_equity: Input should be greater than 0" in bad.err


def test_the_bundled_flagship_data_is_never_stale(tmp_path: Path) -> None:
    loaded = load_config(Path(__file__).resolve().parents[2] / "configs"
                         / "rut_breakout_rotation.yaml", [f"runs_dir={tmp_path}"])
    history, origins = load_market(["RUT", "BTC/USDT"], ["BTC/USDT"], loaded.run.data,
                                   tmp_path, loaded.path, start=dt.date(2017, 8, 17))
    assert origins["RUT"]["stale_spans"] == []
    assert "warnings" not in origins["RUT"]
    assert history.fresh("RUT").all()


# ----------------------------------------------------------------------------- the join API


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    """RUT with the 2020-03-02..2020-03-13 sessions removed, on the BTC clock."""
    rut = read_bundled("RUT")
    rut = rut.drop(index=rut.loc["2020-03-02":"2020-03-13"].index)
    bars = {"RUT": SymbolBars.from_bars("RUT", "us_equity", rut),
            "BTC/USDT": SymbolBars.from_bars("BTC/USDT", default_calendar("BTC/USDT"),
                                             read_bundled("BTC/USDT"))}
    return MarketHistory.build(bars, ["BTC/USDT"], start=pd.Timestamp("2020-02-01"),
                               end=pd.Timestamp("2020-04-30"))


def test_as_of_joins_nan_once_the_last_bar_is_older_than_the_max_age(
    history: MarketHistory,
) -> None:
    seen = history.as_of(history.native("RUT")["close"], source="RUT")
    friday = read_bundled("RUT")["close"].loc["2020-02-28"]
    # Friday 2020-02-28 16:00 New York = 21:00 UTC; 7 days later it is too old
    assert seen[pd.Timestamp("2020-03-06 00:00", tz="UTC")] == friday
    assert np.isnan(seen[pd.Timestamp("2020-03-07 00:00", tz="UTC")])
    assert np.isnan(seen[pd.Timestamp("2020-03-16 00:00", tz="UTC")])
    assert seen[pd.Timestamp("2020-03-17 00:00", tz="UTC")] == read_bundled("RUT")[
        "close"].loc["2020-03-16"]
    assert history.fresh("RUT").tolist() == (~seen.isna()).tolist()
    (span,) = history.stale_spans("RUT")
    assert (span.first, span.last, span.decisions) == (
        pd.Timestamp("2020-03-07", tz="UTC"), pd.Timestamp("2020-03-16", tz="UTC"), 10)


def test_a_derived_frame_gets_the_staleness_of_its_source(history: MarketHistory) -> None:
    """What the flagship joins: a frame computed on the signal's calendar, indexed by the
    time each row became known."""
    native = history.native("RUT")
    derived = pd.DataFrame({"level": native["close"].cummax(), "up": native["close"] > 0},
                           index=native.index)
    joined = history.as_of_frame(derived, source="RUT")
    assert joined["level"].isna().tolist() == (~history.fresh("RUT")).tolist()
    # an explicit max age, and the lenient default (the longest max age of the calendars)
    strict = history.as_of_frame(derived, max_age=pd.Timedelta(days=1))
    assert strict["level"].isna().sum() > joined["level"].isna().sum()
    pd.testing.assert_frame_equal(history.as_of_frame(derived), joined)
    crypto = history.as_of_frame(derived, source="BTC/USDT")  # 2 days: weekends go missing
    assert np.isnan(crypto.loc[pd.Timestamp("2020-02-10 00:00", tz="UTC"), "level"])


def test_truncation_and_tail_keep_the_staleness(history: MarketHistory) -> None:
    cut = history.truncate(pd.Timestamp("2020-03-10", tz="UTC"))
    assert cut.max_staleness == history.max_staleness
    assert cut.fresh("RUT").tolist() == history.fresh("RUT")[: len(cut.clock)].tolist()
    tail = history.tail(5)
    assert list(tail.clock) == list(history.clock[-5:])
    assert tail.max_staleness == history.max_staleness
