"""fetch_yfinance: cache, incremental refresh, today's bar, offline errors (Yahoo faked; real
yfinance pointed at a closed proxy)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pandas as pd
import pytest
from fake_binance_klines import closed_port
from fake_yahoo import YahooFake, offline_curl_error

from papertrade.data.bars import read_ohlcv_csv
from papertrade.data.download_yfinance import fetch_yfinance, normalise_yahoo
from papertrade.errors import DataError

JUNE = dt.date(2026, 6, 1)
TODAY = dt.date(2026, 7, 15)  # the fake's today: a Wednesday with a (partial) bar
OFFLINE = (
    "RUT: cannot download ^RUT from Yahoo Finance (DNSError: Could not resolve host: "
    "query2.finance.yahoo.com); offline? use the bundled data instead: set data.symbols.RUT "
    "to {source: bundled} or remove it"
)


def cached_csv(cache_dir: Path) -> pd.DataFrame:
    return read_ohlcv_csv(cache_dir / "yfinance" / "yahoo" / "^RUT-1d.csv")


def test_first_download_caches_final_bars_and_returns_today_unfinished(
    yahoo: YahooFake, rut: pd.DataFrame, cache_dir: Path
) -> None:
    bars = fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                          fetch=yahoo, today=TODAY)

    assert yahoo.calls == [("^RUT", JUNE, TODAY)]
    expected = rut.loc["2026-06-01":"2026-07-14"]
    pd.testing.assert_frame_equal(bars.iloc[:-1], expected, check_exact=True, check_freq=False)
    assert bars.index[-1] == pd.Timestamp(TODAY)  # today's snapshot is returned ...
    assert bars.iloc[-1]["close"] == rut.loc[pd.Timestamp(TODAY), "open"]
    cached = cached_csv(cache_dir)  # ... but never cached as final
    pd.testing.assert_frame_equal(cached, expected, check_exact=True, check_freq=False)
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert bars.index.name == "date"
    assert pd.DatetimeIndex(bars.index).tz is None


def test_later_call_downloads_only_the_missing_range(
    yahoo: YahooFake, rut: pd.DataFrame, cache_dir: Path
) -> None:
    fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                   fetch=yahoo, today=TODAY)
    later = dt.date(2026, 8, 1)  # a Saturday
    yahoo.today = later
    bars = fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                          fetch=yahoo, today=later)

    # from the last cached bar (asked again: it may have been revised) to today
    assert yahoo.calls[1:] == [("^RUT", dt.date(2026, 7, 14), later)]
    expected = rut.loc["2026-06-01":"2026-07-31"]  # 07-15 now carries its final values
    pd.testing.assert_frame_equal(bars, expected, check_exact=True, check_freq=False)
    pd.testing.assert_frame_equal(cached_csv(cache_dir), expected, check_exact=True,
                                  check_freq=False)


def test_a_range_the_cache_covers_is_served_without_download(
    yahoo: YahooFake, rut: pd.DataFrame, cache_dir: Path
) -> None:
    fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                   fetch=yahoo, today=TODAY)
    bars = fetch_yfinance("^RUT", symbol="RUT", start=dt.date(2026, 6, 10),
                          end=dt.date(2026, 7, 10), cache_dir=cache_dir, fetch=yahoo,
                          today=dt.date(2026, 9, 1))
    assert len(yahoo.calls) == 1
    pd.testing.assert_frame_equal(bars, rut.loc["2026-06-10":"2026-07-10"], check_exact=True,
                                  check_freq=False)


def test_an_earlier_start_downloads_across_the_cached_range(
    yahoo: YahooFake, rut: pd.DataFrame, cache_dir: Path
) -> None:
    fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                   fetch=yahoo, today=TODAY)
    may = dt.date(2026, 5, 1)
    bars = fetch_yfinance("^RUT", symbol="RUT", start=may, end=dt.date(2026, 5, 29),
                          cache_dir=cache_dir, fetch=yahoo, today=TODAY)
    assert yahoo.calls[1:] == [("^RUT", may, dt.date(2026, 7, 14))]
    pd.testing.assert_frame_equal(bars, rut.loc["2026-05-01":"2026-05-29"], check_exact=True,
                                  check_freq=False)
    pd.testing.assert_frame_equal(cached_csv(cache_dir), rut.loc["2026-05-01":"2026-07-14"],
                                  check_exact=True, check_freq=False)


def test_offline_without_cache_is_one_line_naming_the_bundled_data(
    yahoo: YahooFake, cache_dir: Path
) -> None:
    yahoo.error = offline_curl_error()
    with pytest.raises(DataError) as info:
        fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                       fetch=yahoo, today=TODAY)
    assert str(info.value) == OFFLINE
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_offline_for_a_symbol_without_bundled_data_suggests_a_csv(
    yahoo: YahooFake, cache_dir: Path
) -> None:
    yahoo.error = offline_curl_error()
    with pytest.raises(DataError, match=r"^AAPL: cannot download AAPL from Yahoo Finance "
                       r"\(DNSError: .*\); offline\? retry when online, or save the bars to a "
                       r"CSV and set data\.symbols\.AAPL to \{source: csv, path: \.\.\.\}$"):
        fetch_yfinance("AAPL", symbol="AAPL", start=JUNE, end=None, cache_dir=cache_dir,
                       fetch=yahoo, today=TODAY)


def test_offline_with_a_covering_cache_serves_it_with_a_warning(
    yahoo: YahooFake, rut: pd.DataFrame, cache_dir: Path, warnings_logged: list[str]
) -> None:
    fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                   fetch=yahoo, today=TODAY)
    yahoo.error = offline_curl_error()
    bars = fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                          fetch=yahoo, today=TODAY)  # same day: every final bar is cached
    pd.testing.assert_frame_equal(bars, rut.loc["2026-06-01":"2026-07-14"], check_exact=True,
                                  check_freq=False)
    assert warnings_logged == [
        "RUT: cannot refresh ^RUT from Yahoo Finance (DNSError: Could not resolve host: "
        "query2.finance.yahoo.com); using the cached bars through 2026-07-14"
    ]


def test_offline_with_a_cache_that_stops_short_fails(
    yahoo: YahooFake, cache_dir: Path
) -> None:
    fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                   fetch=yahoo, today=TODAY)
    yahoo.error = offline_curl_error()
    with pytest.raises(DataError) as info:
        fetch_yfinance("^RUT", symbol="RUT", start=JUNE, end=None, cache_dir=cache_dir,
                       fetch=yahoo, today=dt.date(2026, 7, 20))
    assert str(info.value) == OFFLINE


def test_empty_download_names_ticker_and_range(yahoo: YahooFake, cache_dir: Path) -> None:
    saturday, sunday = dt.date(2026, 7, 4), dt.date(2026, 7, 5)
    with pytest.raises(DataError) as info:
        fetch_yfinance("^RUT", symbol="RUT", start=saturday, end=sunday, cache_dir=cache_dir,
                       fetch=yahoo, today=TODAY)
    assert str(info.value) == (
        "RUT: Yahoo Finance returned no bars for ^RUT from 2026-07-04 to 2026-07-05; check the "
        "ticker (data.symbols.RUT.ticker) and the dates (data.start/data.end)"
    )
    assert not (cache_dir / "yfinance").exists()


def test_yfinance_download_shape_multiindex_columns_and_tokyo_dates() -> None:
    index = pd.DatetimeIndex(["2024-01-04", "2024-01-05"], name="Date").tz_localize("Asia/Tokyo")
    columns = pd.MultiIndex.from_product(
        [["Adj Close", "Close", "High", "Low", "Open", "Volume"], ["^N225"]],
        names=["Price", "Ticker"],
    )
    raw = pd.DataFrame(
        [[1, 2, 3, 0.5, 1, 10], [2, 2.5, 3, 1.5, 2, 20]], index=index, columns=columns
    )
    bars = normalise_yahoo(raw, "Yahoo Finance ^N225")
    assert list(pd.DatetimeIndex(bars.index).strftime("%Y-%m-%d")) == ["2024-01-04", "2024-01-05"]
    assert bars.to_numpy()[1].tolist() == [2.0, 3.0, 1.5, 2.5, 20.0]


def test_real_yfinance_without_network_fails_fast_with_our_error(
    monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> None:
    # curl_cffi (libcurl) honours the proxy variables: a closed loopback proxy makes every
    # Yahoo request fail at once, even on a machine with internet.
    proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)

    started = time.monotonic()
    with pytest.raises(DataError) as info:
        fetch_yfinance("^RUT", symbol="RUT", start=dt.date(2024, 1, 2),
                       end=dt.date(2024, 1, 31), cache_dir=cache_dir)
    elapsed = time.monotonic() - started

    message = str(info.value)
    assert elapsed < 15
    assert message.startswith("RUT: cannot download ^RUT from Yahoo Finance (")
    assert message.endswith(
        "); offline? use the bundled data instead: set data.symbols.RUT to {source: bundled} "
        "or remove it"
    )
    assert "proxy" in message  # the request went to the closed proxy, not to the internet
    assert "\n" not in message
    assert "Traceback" not in message
    assert "curl.se" not in message
    assert not (cache_dir / "yfinance").exists()
