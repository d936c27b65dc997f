"""Issue 9, item 1: CSV timestamps are read in the symbol's own market time, never relabelled.

A RUT file whose dates carry a +05:00 offset used to be converted to UTC and normalised, so
every session was labelled a day early and the Sunday 2017-08-20 decision saw Monday's close
(+272.7 % instead of +244.4 % on configs/rut_breakout_btc_only.yaml).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from csv_backtest import btc_only_config, raw_rows, run_folders, write_rows

from papertrade.data.bars import normalise_frame, read_ohlcv_csv
from papertrade.errors import DataError
from tests.cli_harness import assert_one_line_error, run_cli


def _with_offset(frame: pd.DataFrame, suffix: str) -> pd.DataFrame:
    out = frame.copy()
    out["date"] = out["date"] + suffix
    return out


def test_a_plus_five_offset_rut_file_is_refused_not_shifted_a_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rut = write_rows(tmp_path / "rut.csv", _with_offset(raw_rows("RUT"), "T00:00:00+05:00"))
    config = btc_only_config(tmp_path, csv={"RUT": rut}, start="2016-01-01", end=None)
    result = run_cli(["backtest", str(config), "--no-report"], capsys)
    assert_one_line_error(
        result, 3, str(rut), "row 1", "'1987-09-10T00:00:00+05:00' is 1987-09-09 in New York",
        "not 1987-09-10", "without an offset",
    )
    assert run_folders(tmp_path) == []


def test_new_york_offsets_give_the_same_decisions_as_plain_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = raw_rows("RUT", "2016-01-01", "2018-03-31")
    # the session's own New York midnight (EDT -04:00 in summer, EST -05:00 in winter), and
    # the 16:00 close written in UTC: both are the session's date in New York
    stamps = pd.DatetimeIndex(pd.to_datetime(rows["date"])).tz_localize("America/New_York")
    midnight = rows.assign(date=[t.isoformat() for t in stamps])
    close_utc = rows.assign(date=[(t + pd.Timedelta(hours=16)).tz_convert("UTC")
                                  .strftime("%Y-%m-%dT%H:%M:%SZ") for t in stamps])
    assert midnight["date"].iloc[0].endswith("-05:00")
    assert close_utc["date"].iloc[0].endswith("T21:00:00Z")
    signals = []
    for name, frame in (("plain", rows), ("midnight", midnight), ("close", close_utc)):
        folder = tmp_path / name
        folder.mkdir()
        rut = write_rows(folder / "rut.csv", frame)
        config = btc_only_config(folder, csv={"RUT": rut}, start="2017-08-01", end="2017-12-31")
        result = run_cli(["backtest", str(config), "--no-report"], capsys)
        assert result.code == 0, result.err
        (run,) = run_folders(folder)
        signals.append(pd.read_csv(run / "signals.csv"))
    # the Sunday 2017-08-20 bar (decided 2017-08-21 00:00 UTC) sees Friday 2017-08-18
    sunday = signals[0].loc[signals[0]["date"] == "2017-08-20"].iloc[0]
    assert sunday["signal_date"] == "2017-08-18"
    pd.testing.assert_frame_equal(signals[0], signals[1])
    pd.testing.assert_frame_equal(signals[0], signals[2])


@pytest.mark.parametrize(
    ("written", "calendar", "label"),
    [
        ("2020-09-01", "us_equity", "2020-09-01"),
        ("2020-09-01 16:00", "us_equity", "2020-09-01"),  # naive: already market time
        ("2020-09-01T00:00:00-04:00", "us_equity", "2020-09-01"),
        ("2020-09-01T20:00:00Z", "us_equity", "2020-09-01"),
        ("2020-09-01T00:00:00Z", "crypto", "2020-09-01"),
        ("2020-09-01T23:59:59.999Z", "crypto", "2020-09-01"),
        ("2020-09-01T08:00:00+08:00", "crypto", "2020-09-01"),
        ("2020-09-01 23:00", "crypto", "2020-09-01"),
        ("20200901", "crypto", "2020-09-01"),
    ],
)
def test_timestamps_that_name_the_market_date_are_accepted(
    written: str, calendar: str, label: str
) -> None:
    frame = pd.DataFrame({"date": [written], "open": [1.0], "high": [1.0], "low": [1.0],
                          "close": [1.0], "volume": [0.0]}).astype({"date": "string"})
    bars = normalise_frame(frame, "x.csv", calendar)  # type: ignore[arg-type]
    assert list(bars.index) == [pd.Timestamp(label)]


@pytest.mark.parametrize(
    ("written", "calendar", "market_day"),
    [
        ("2020-09-01T00:00:00+05:00", "us_equity", "2020-08-31"),
        ("2020-09-01T00:00:00Z", "us_equity", "2020-08-31"),  # UTC midnight: 20:00 in New York
        ("2020-09-02T01:00:00+00:00", "us_equity", "2020-09-01"),
        ("2020-09-01T00:00:00+05:00", "crypto", "2020-08-31"),
        ("2020-09-01T22:00:00-04:00", "crypto", "2020-09-02"),
    ],
)
def test_an_offset_that_moves_the_bar_to_another_day_is_an_error(
    written: str, calendar: str, market_day: str
) -> None:
    frame = pd.DataFrame({"date": ["2020-08-28", written], "open": [1.0, 1.0],
                          "high": [1.0, 1.0], "low": [1.0, 1.0], "close": [1.0, 1.0],
                          "volume": [0.0, 0.0]}).astype({"date": "string"})
    with pytest.raises(DataError) as info:
        normalise_frame(frame, "x.csv", calendar)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith(f"x.csv: row 2: '{written}' is {market_day} in ")
    assert "\n" not in message


def test_tz_aware_frames_follow_the_same_rule() -> None:
    stamps = pd.Series(pd.to_datetime(["2020-09-01 00:00", "2020-09-02 00:00"]))
    frame = pd.DataFrame({"date": stamps.dt.tz_localize("Asia/Karachi"), "open": 1.0,
                          "high": 1.0, "low": 1.0, "close": 1.0, "volume": 0.0})
    with pytest.raises(DataError, match=r"row 1: .* is 2020-08-31 in New York market time"):
        normalise_frame(frame, "x", "us_equity")
    ny = frame.assign(date=stamps.dt.tz_localize("America/New_York"))
    assert list(normalise_frame(ny, "x", "us_equity").index) == list(stamps)


def test_bundled_files_read_the_same_way(tmp_path: Path) -> None:
    rows = raw_rows("BTC/USDT", "2024-01-01", "2024-01-31")
    zulu = write_rows(tmp_path / "z.csv", _with_offset(rows, "T00:00:00.000Z"))
    plain = write_rows(tmp_path / "p.csv", rows)
    pd.testing.assert_frame_equal(read_ohlcv_csv(zulu, calendar="crypto"),
                                  read_ohlcv_csv(plain, calendar="crypto"))
