"""validate_bars on the real bundled files, each hard rule broken by one injected defect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papertrade.data.bars import bundled_symbols, default_calendar, read_bundled
from papertrade.data.validate import validate_bars
from papertrade.errors import DataError

WHERE = "bundled BTC-USDT.csv"


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    return read_bundled("BTC/USDT")


def fails(frame: pd.DataFrame, *parts: str, calendar: str = "crypto") -> str:
    with pytest.raises(DataError) as info:
        validate_bars(frame, where=WHERE, calendar=calendar)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{WHERE}: ")
    for part in parts:
        assert part in message, message
    return message


@pytest.mark.parametrize("symbol", bundled_symbols())
def test_every_bundled_file_passes(symbol: str) -> None:
    frame = read_bundled(symbol)
    warnings = validate_bars(frame, where=symbol, calendar=default_calendar(symbol))
    if symbol != "RUT":
        assert warnings == []


def test_rut_warns_only_about_its_documented_market_closures() -> None:
    warnings = validate_bars(read_bundled("RUT"), where="RUT.csv", calendar="us_equity")
    assert [w.split(" (between")[0] for w in warnings] == [
        "RUT.csv: no bars for 6 calendar days 2001-09-11..2001-09-16",  # 9/11
        "RUT.csv: no bars for 4 calendar days 2006-12-30..2007-01-02",  # Ford funeral + New Year
        "RUT.csv: no bars for 4 calendar days 2012-10-27..2012-10-30",  # hurricane Sandy
    ]


def test_unsorted_dates(btc: pd.DataFrame) -> None:
    order = list(range(len(btc)))
    order[100], order[101] = order[101], order[100]
    frame = btc.iloc[order]
    fails(frame, "not sorted ascending", f"{btc.index[100]:%Y-%m-%d} comes after "
          f"{btc.index[101]:%Y-%m-%d}", "sort the rows by date")


def test_duplicate_date(btc: pd.DataFrame) -> None:
    frame = pd.concat([btc.iloc[:501], btc.iloc[500:]])
    fails(frame, f"duplicate date {btc.index[500]:%Y-%m-%d} (2 rows)", "keep one row per date")


@pytest.mark.parametrize("column", ["open", "high", "low", "close"])
def test_nan_price(btc: pd.DataFrame, column: str) -> None:
    frame = btc.copy()
    frame.loc[frame.index[1234], column] = np.nan
    fails(frame, f"NaN {column} on {btc.index[1234]:%Y-%m-%d}", "fix or remove that row")


def test_nan_volume_is_allowed(btc: pd.DataFrame) -> None:
    frame = btc.copy()
    frame.loc[frame.index[1234], "volume"] = np.nan
    assert validate_bars(frame, where=WHERE, calendar="crypto") == []


def test_negative_price(btc: pd.DataFrame) -> None:
    frame = btc.copy()
    frame.loc[frame.index[2000], "low"] = -1.0
    fails(frame, f"negative low -1 on {btc.index[2000]:%Y-%m-%d}")


def test_high_below_open_or_close(btc: pd.DataFrame) -> None:
    frame = btc.copy()
    row = frame.iloc[777]
    top = max(row["open"], row["close"])
    frame.loc[frame.index[777], "high"] = top * (1 - 1e-6)
    fails(frame, "is below max(open, close)", f"on {btc.index[777]:%Y-%m-%d}")


def test_low_above_open_or_close(btc: pd.DataFrame) -> None:
    frame = btc.copy()
    row = frame.iloc[888]
    bottom = min(row["open"], row["close"])
    frame.loc[frame.index[888], "low"] = bottom * (1 + 1e-6)
    fails(frame, "is above min(open, close)", f"on {btc.index[888]:%Y-%m-%d}")


def test_relative_tolerance_of_one_billionth(btc: pd.DataFrame) -> None:
    frame = btc.copy()
    top = frame[["open", "close"]].max(axis=1)
    bottom = frame[["open", "close"]].min(axis=1)
    frame["high"] = top * (1 - 1e-12)  # every high a hair below: float noise, accepted
    frame["low"] = bottom * (1 + 1e-12)
    assert validate_bars(frame, where=WHERE, calendar="crypto") == []


def test_empty_frame(btc: pd.DataFrame) -> None:
    fails(btc.iloc[:0], "no bars")


def test_crypto_gaps_name_every_missing_day(btc: pd.DataFrame) -> None:
    missing = [pd.Timestamp("2021-05-19"), pd.Timestamp("2022-11-08"),
               pd.Timestamp("2022-11-09"), pd.Timestamp("2022-11-10")]
    warnings = validate_bars(btc.drop(index=missing), where=WHERE, calendar="crypto")
    assert warnings == [
        f"{WHERE}: no bars for 1 calendar day 2021-05-19 (between 2021-05-18 and 2021-05-20); "
        "a 24/7 market should have a bar every day",
        f"{WHERE}: no bars for 3 calendar days 2022-11-08..2022-11-10 (between 2022-11-07 and "
        "2022-11-11); a 24/7 market should have a bar every day",
    ]


def test_us_equity_long_weekends_are_normal_but_a_missing_week_is_not() -> None:
    rut = read_bundled("RUT")
    friday = pd.Timestamp("2024-05-10")
    assert friday.day_name() == "Friday"
    base = validate_bars(rut, where="RUT.csv", calendar="us_equity")
    assert validate_bars(rut.drop(index=[friday]), where="RUT.csv", calendar="us_equity") == base
    week = rut.loc["2024-06-10":"2024-06-14"].index
    warnings = validate_bars(rut.drop(index=week), where="RUT.csv", calendar="us_equity")
    assert warnings[len(base):] == [
        "RUT.csv: no bars for 9 calendar days 2024-06-08..2024-06-16 (between 2024-06-07 and "
        "2024-06-17); longer than a weekend plus holiday: check the source if the market "
        "was open"
    ]


def test_gap_warnings_are_capped(btc: pd.DataFrame) -> None:
    every_other_day = btc.iloc[::2]
    warnings = validate_bars(every_other_day, where=WHERE, calendar="crypto")
    assert len(warnings) == 21
    assert warnings[-1] == f"{WHERE}: ... and {len(every_other_day) - 1 - 20} more gaps"
