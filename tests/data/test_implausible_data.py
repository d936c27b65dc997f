"""Issue 9, item 2: stale or impossible data is refused or reported, never used silently.

Each test writes a real CSV into ``tmp_path`` and runs ``papertrade backtest`` through the CLI's
entry point with the shipped BTC-only config reading it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from csv_backtest import btc_only_config, manifest, raw_rows, run_folders, write_rows

from tests.cli_harness import assert_one_line_error, run_cli


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("close", "inf", "close inf on 2024-01-10 is not finite"),
        ("close", "-inf", "close -inf on 2024-01-10 is not finite"),
        ("high", "1e308", "high 1e+308 on 2024-01-10 is outside [1e-12, 1e+12]: not a price"),
        ("close", "0", "close 0 on 2024-01-10: prices must be positive"),
        ("low", "5e-324", "low 4.940656458e-324 on 2024-01-10 is outside [1e-12, 1e+12]"),
        ("volume", "inf", "volume inf on 2024-01-10 is not finite"),
        ("close", "abc", "close 'abc' on 2024-01-10 (row 7) is not a number"),
    ],
)
@pytest.mark.parametrize("symbol", ["RUT", "BTC/USDT"])
def test_impossible_prices_are_an_error_naming_file_value_and_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], symbol: str, column: str, value: str,
    fragment: str,
) -> None:
    rows = raw_rows(symbol, "2024-01-02" if symbol == "RUT" else "2024-01-04", "2024-03-31")
    assert rows.loc[6, "date"] == "2024-01-10"
    rows.loc[6, column] = value  # checked before high/low must bracket open/close
    path = write_rows(tmp_path / "bars.csv", rows)
    config = btc_only_config(tmp_path, csv={symbol: path}, start="2024-01-01", end="2024-02-29")
    result = run_cli(["backtest", str(config), "--no-report"], capsys)
    assert_one_line_error(result, 3, str(path), fragment, "fix or remove that row")
    assert run_folders(tmp_path) == []


def test_a_two_year_gap_is_shown_on_the_terminal_and_kept_in_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = raw_rows("RUT", "2017-01-01", "2021-12-31")
    rows = rows[(rows["date"] < "2018-06-01") | (rows["date"] > "2020-06-01")]
    path = write_rows(tmp_path / "rut_gap.csv", rows)
    config = btc_only_config(tmp_path, csv={"RUT": path}, start="2018-05-01", end="2018-07-31")
    result = run_cli(["backtest", str(config), "--no-report"], capsys)
    assert result.code == 0, result.err
    gap = (f"WARNING RUT: {path}: no bars for 732 calendar days 2018-06-01..2020-06-01 "
           "(between 2018-05-31 and 2020-06-02)")
    assert any(line.startswith(gap) for line in result.err.splitlines()), result.err
    assert "WARNING RUT: no bar newer than 7 days at 55 decision(s) 2018-06-08..2018-08-01" \
        in result.err
    (run,) = run_folders(tmp_path)
    rut = manifest(run)["data"]["RUT"]
    assert rut["gaps"] == 1
    assert rut["gap_spans"] == ["2018-06-01..2020-06-01"]
    assert rut["stale_spans"] == ["2018-06-08..2018-08-01"]
    assert len(rut["warnings"]) == 2


def test_short_gaps_are_recorded_but_not_shouted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = raw_rows("BTC/USDT", "2024-01-01", "2024-03-31")
    rows = rows[~rows["date"].isin(["2024-01-20", "2024-02-10", "2024-02-11"])]
    path = write_rows(tmp_path / "btc.csv", rows)
    config = btc_only_config(tmp_path, csv={"BTC/USDT": path}, start="2024-01-01",
                             end="2024-02-29")
    result = run_cli(["backtest", str(config), "--no-report"], capsys)
    assert result.code == 0, result.err
    assert result.err == ""
    (run,) = run_folders(tmp_path)
    btc = manifest(run)["data"]["BTC/USDT"]
    assert btc["gap_spans"] == ["2024-01-20", "2024-02-10..2024-02-11"]
    assert "warnings" not in btc


def test_a_file_running_to_2262_is_an_error_naming_the_first_future_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = raw_rows("BTC/USDT", "2025-01-01")
    last = rows.iloc[-1]
    dates = pd.date_range(pd.Timestamp(last["date"]) + pd.Timedelta(days=1), "2262-04-01")
    extension = pd.DataFrame({c: last[c] for c in rows.columns if c != "date"},
                             index=range(len(dates)))
    extension.insert(0, "date", dates.strftime("%Y-%m-%d"))
    path = write_rows(tmp_path / "btc_2262.csv", pd.concat([rows, extension]))
    today = dt.datetime.now(dt.UTC).date()
    first_future = today + dt.timedelta(days=2)
    row = len(rows) + (first_future - (pd.Timestamp(last["date"]).date())).days
    config = btc_only_config(tmp_path, csv={"BTC/USDT": path}, start="2025-01-01", end=None)
    result = run_cli(["backtest", str(config), "--no-report"], capsys)
    assert_one_line_error(result, 3, str(path), f"date {first_future:%Y-%m-%d} (row {row} and",
                          "is in the future", "remove the rows after today")
    assert run_folders(tmp_path) == []


@pytest.mark.parametrize(("date", "first", "fragment"), [
    ("2300-01-01", False, "date 2300-01-01 (row 92) is in the future"),
    ("10000-01-01", False, "row 92: '10000-01-01' is not an ISO 8601 date"),
    ("1850-01-01", True, "date 1850-01-01 (row 1) is before 1900-01-01"),
])
def test_dates_outside_the_plausible_range_are_errors_not_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], date: str, first: bool, fragment: str
) -> None:
    rows = raw_rows("BTC/USDT", "2024-01-01", "2024-03-31")
    assert len(rows) == 91
    extra = rows.iloc[[-1]].assign(date=date)
    rows = pd.concat([extra, rows]) if first else pd.concat([rows, extra])
    path = write_rows(tmp_path / "btc.csv", rows)
    config = btc_only_config(tmp_path, csv={"BTC/USDT": path}, start="2024-01-01",
                             end="2024-02-29")
    result = run_cli(["backtest", str(config), "--no-report"], capsys)
    assert_one_line_error(result, 3, str(path), fragment)
