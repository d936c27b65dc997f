"""The on-disk bars cache: layout, exact round trip, atomic writes, merging, damaged files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest

from papertrade.data.bars import read_bundled, read_ohlcv_csv
from papertrade.data.cache import (
    cache_path,
    merge_bars,
    read_cached,
    safe_name,
    short_reason,
    write_cached,
)
from papertrade.errors import DataError

KEY = {"source": "ccxt", "namespace": "binance", "name": "BTC/USDT", "timeframe": "1d"}


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    return read_bundled("BTC/USDT")


@pytest.mark.parametrize(
    ("name", "safe"),
    [("BTC/USDT", "BTC-USDT"), ("^RUT", "^RUT"), ("EURUSD=X", "EURUSD=X"),
     ("BTC/USDT:USDT", "BTC-USDT_USDT"), ("a b", "a%20b"), ("..", "%2E."), ("é", "%C3%A9")],
)
def test_safe_names_are_readable_and_stay_in_their_folder(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_layout(tmp_path: Path) -> None:
    assert cache_path(tmp_path, **KEY) == tmp_path / "ccxt" / "binance" / "BTC-USDT-1d.csv"


def test_round_trip_is_exact_and_the_csv_is_a_plain_bars_file(
    tmp_path: Path, btc: pd.DataFrame
) -> None:
    path = write_cached(tmp_path, **KEY, frame=btc, covers_from=None,
                        checked_through=dt.date(2026, 3, 3))
    entry = read_cached(tmp_path, **KEY)
    assert entry is not None
    pd.testing.assert_frame_equal(entry.frame, btc, check_exact=True, check_freq=False)
    pd.testing.assert_frame_equal(read_ohlcv_csv(path), btc, check_exact=True, check_freq=False)
    assert entry.covers_from is None
    assert entry.checked_through == dt.date(2026, 3, 3)
    assert entry.covers(None, dt.date(2026, 3, 3))
    assert not entry.covers(None, dt.date(2026, 3, 4))
    assert sorted(p.name for p in path.parent.iterdir()) == ["BTC-USDT-1d.csv",
                                                             "BTC-USDT-1d.json"]


def test_a_failed_write_leaves_the_previous_cache_intact(
    tmp_path: Path, btc: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_cached(tmp_path, **KEY, frame=btc.iloc[:10], covers_from=dt.date(2017, 8, 17),
                        checked_through=dt.date(2017, 8, 26))
    before = path.read_bytes()

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(DataError, match=r"cannot write the data cache .*No space left on device"
                       r"\); check that data.cache_dir is writable or point it elsewhere$"):
        write_cached(tmp_path, **KEY, frame=btc, covers_from=None,
                     checked_through=dt.date(2026, 3, 3))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["BTC-USDT-1d.csv",
                                                             "BTC-USDT-1d.json"]


def test_merge_prefers_new_rows_and_keeps_dates_sorted_and_unique(btc: pd.DataFrame) -> None:
    old = btc.iloc[:100]
    new = btc.iloc[90:120].copy()
    new["close"] = new["close"] * 2
    merged = merge_bars(old, new.iloc[::-1])  # even when the download comes unsorted
    assert merged.index.is_monotonic_increasing
    assert not merged.index.has_duplicates
    pd.testing.assert_frame_equal(merged.iloc[:90], btc.iloc[:90], check_freq=False)
    pd.testing.assert_frame_equal(merged.iloc[90:], new, check_freq=False)
    assert merge_bars(None, new).index.equals(new.index)


def test_an_unreadable_cache_is_ignored_with_a_warning(
    tmp_path: Path, warnings_logged: list[str]
) -> None:
    path = cache_path(tmp_path, **KEY)
    path.parent.mkdir(parents=True)
    path.write_text("this is not,a bars file\n1,2\n", encoding="utf-8")
    assert read_cached(tmp_path, **KEY) is None
    assert warnings_logged[0].startswith(f"ignoring unreadable cache file {path} (")
    assert warnings_logged[0].endswith("); it will be downloaded again")


def test_without_its_sidecar_the_cache_covers_only_its_own_dates(
    tmp_path: Path, btc: pd.DataFrame
) -> None:
    path = write_cached(tmp_path, **KEY, frame=btc.loc["2020-01-01":"2020-12-31"], covers_from=None,
                        checked_through=dt.date(2021, 6, 1))
    path.with_suffix(".json").unlink()
    entry = read_cached(tmp_path, **KEY)
    assert entry is not None
    assert entry.covers_from == dt.date(2020, 1, 1)
    assert entry.checked_through == dt.date(2020, 12, 31)


def test_reasons_are_short_and_carry_no_credentials() -> None:
    exc = RuntimeError(
        "GET https://user:hunter2@proxy.example/api?symbol=X&signature=abc123 failed"
    )
    reason = short_reason(exc)
    assert reason == "RuntimeError: GET https://***@proxy.example/api failed"
    assert short_reason(RuntimeError("x" * 500)).endswith("...")
    assert len(short_reason(RuntimeError("x" * 500))) == 200
