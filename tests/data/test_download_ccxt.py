"""fetch_ccxt with a real ccxt binance client talking HTTP to a loopback Binance that serves the
real bundled klines (see fake_binance_klines.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from fake_binance_klines import (
    BINANCE_NOW,
    FakeBinance,
    binance_client_factory,
    closed_port,
    day_ms,
    listing_from_csv,
)

from papertrade.data.bars import bundled_file, read_bundled, read_ohlcv_csv
from papertrade.data.download_ccxt import fetch_ccxt
from papertrade.errors import DataError


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    return read_bundled("BTC/USDT")


def fetch(server_url: str, cache_dir: Path, market: str = "BTC/USDT", *,
          start: dt.date | None = None, end: dt.date | None = None,
          now: dt.datetime = BINANCE_NOW, symbol: str | None = None) -> pd.DataFrame:
    return fetch_ccxt(market, symbol=symbol or market, exchange="binance", timeframe="1d",
                      start=start, end=end, cache_dir=cache_dir,
                      make_client=binance_client_factory(server_url), now=now)


def cached(cache_dir: Path, name: str = "BTC-USDT") -> pd.DataFrame:
    return read_ohlcv_csv(cache_dir / "ccxt" / "binance" / f"{name}-1d.csv")


def test_full_history_paginates_and_reproduces_the_bundled_file(
    binance: FakeBinance, btc: pd.DataFrame, cache_dir: Path
) -> None:
    bars = fetch(binance.base_url, cache_dir)

    expected = btc.loc[:"2025-06-14"]  # now is 2025-06-15 10:30 UTC: the 15th is forming
    assert len(expected) > 2 * 1000
    pd.testing.assert_frame_equal(bars, expected, check_exact=True, check_freq=False)
    pd.testing.assert_frame_equal(cached(cache_dir), expected, check_exact=True,
                                  check_freq=False)
    requests = binance.klines_requests()
    assert [r["startTime"] for r in requests] == [
        "0", str(day_ms(dt.date(2020, 5, 13))), str(day_ms(dt.date(2023, 2, 7)))
    ]
    assert all(r["limit"] == "1000" and r["interval"] == "1d" for r in requests)


def test_the_forming_candle_is_dropped(binance: FakeBinance, cache_dir: Path) -> None:
    bars = fetch(binance.base_url, cache_dir, start=dt.date(2025, 5, 1))
    forming = day_ms(dt.date(2025, 6, 15))
    assert binance.served_forming == [forming]  # the server did send it ...
    assert bars.index[-1] == pd.Timestamp("2025-06-14")  # ... and it is neither returned
    assert cached(cache_dir).index[-1] == pd.Timestamp("2025-06-14")  # nor cached


def test_a_date_range_is_exact(binance: FakeBinance, btc: pd.DataFrame, cache_dir: Path) -> None:
    bars = fetch(binance.base_url, cache_dir, "ETH/USDT", start=dt.date(2020, 1, 1),
                 end=dt.date(2020, 12, 31))
    eth = read_bundled("ETH/USDT")
    pd.testing.assert_frame_equal(bars, eth.loc["2020-01-01":"2020-12-31"], check_exact=True,
                                  check_freq=False)
    assert len(binance.klines_requests()) == 1


def test_incremental_refresh_requests_only_new_candles(
    binance: FakeBinance, btc: pd.DataFrame, cache_dir: Path
) -> None:
    fetch(binance.base_url, cache_dir)
    first = len(binance.klines_requests())

    later = dt.datetime(2025, 7, 20, 8, tzinfo=dt.UTC)
    binance.set_now(later)
    bars = fetch(binance.base_url, cache_dir, now=later)

    new_requests = binance.klines_requests()[first:]
    # one page, from the last cached candle (asked again) on
    assert [r["startTime"] for r in new_requests] == [str(day_ms(dt.date(2025, 6, 14)))]
    expected = btc.loc[:"2025-07-19"]  # 06-15, partial last time, now has its final values
    pd.testing.assert_frame_equal(bars, expected, check_exact=True, check_freq=False)
    pd.testing.assert_frame_equal(cached(cache_dir), expected, check_exact=True,
                                  check_freq=False)

    again = fetch(binance.base_url, cache_dir, start=dt.date(2024, 1, 1), now=later)
    assert len(binance.klines_requests()) == first + 1  # the cache covers it: no request
    pd.testing.assert_frame_equal(again, btc.loc["2024-01-01":"2025-07-19"], check_exact=True,
                                  check_freq=False)


def test_an_earlier_start_downloads_from_there_across_the_cache(
    binance: FakeBinance, btc: pd.DataFrame, cache_dir: Path
) -> None:
    fetch(binance.base_url, cache_dir, start=dt.date(2024, 1, 1))
    before = len(binance.klines_requests())
    binance.page_cap = 200  # so that reaching 2023-06-30 is not enough to join the cache
    bars = fetch(binance.base_url, cache_dir, start=dt.date(2023, 1, 1), end=dt.date(2023, 6, 30))
    assert binance.klines_requests()[before]["startTime"] == str(day_ms(dt.date(2023, 1, 1)))
    pd.testing.assert_frame_equal(bars, btc.loc["2023-01-01":"2023-06-30"], check_exact=True,
                                  check_freq=False)
    pd.testing.assert_frame_equal(cached(cache_dir), btc.loc["2023-01-01":"2025-06-14"],
                                  check_exact=True, check_freq=False)


def test_short_pages_are_followed(binance: FakeBinance, btc: pd.DataFrame, cache_dir: Path) -> None:
    binance.page_cap = 200  # an exchange that returns at most 200 candles a page
    bars = fetch(binance.base_url, cache_dir, start=dt.date(2024, 1, 1))
    pd.testing.assert_frame_equal(bars, btc.loc["2024-01-01":"2025-06-14"], check_exact=True,
                                  check_freq=False)
    assert len(binance.klines_requests()) == 3  # 200 + 200 + 131 candles (forming included)


def test_the_number_of_pages_is_bounded(binance: FakeBinance, cache_dir: Path) -> None:
    binance.page_cap = 5
    with pytest.raises(DataError, match=r"^BTC/USDT: gave up downloading BTC/USDT from binance "
                       r"after 9 pages .*; set data.start/data.end to a shorter range$"):
        fetch(binance.base_url, cache_dir, start=dt.date(2024, 1, 1))
    assert len(binance.klines_requests()) == 9  # ceil(531 candles / 100) + 3
    assert not (cache_dir / "ccxt").exists()


def test_an_exchange_ignoring_since_stops_the_download(
    binance: FakeBinance, btc: pd.DataFrame, cache_dir: Path, warnings_logged: list[str]
) -> None:
    binance.ignores_start = True  # always the first 1000 candles
    bars = fetch(binance.base_url, cache_dir)
    assert len(binance.klines_requests()) == 2  # the 2nd page brings nothing new: stop
    pd.testing.assert_frame_equal(bars, btc.iloc[:1000], check_exact=True, check_freq=False)
    assert warnings_logged == [
        "BTC/USDT: binance has no daily candles for BTC/USDT after 2020-05-12 (delisted or "
        "halted?); the bars end there"
    ]
    binance.ignores_start = False  # the cache does not claim more than it holds
    bars = fetch(binance.base_url, cache_dir)
    pd.testing.assert_frame_equal(bars, btc.loc[:"2025-06-14"], check_exact=True,
                                  check_freq=False)


def test_a_delisted_market_ends_at_its_last_candle(
    cache_dir: Path, warnings_logged: list[str]
) -> None:
    matic = read_bundled("MATIC/USDT")  # delisted by Binance on 2024-09-10
    listing = listing_from_csv(bundled_file("MATIC/USDT"), "MATIC", "USDT")
    with FakeBinance([listing], BINANCE_NOW) as server:
        bars = fetch(server.base_url, cache_dir, "MATIC/USDT", start=dt.date(2024, 1, 1))
        pd.testing.assert_frame_equal(bars, matic.loc["2024-01-01":], check_exact=True,
                                      check_freq=False)
        assert len(server.klines_requests()) == 2  # the second page is empty
        again = fetch(server.base_url, cache_dir, "MATIC/USDT", start=dt.date(2024, 1, 1))
        pd.testing.assert_frame_equal(again, bars)
        # the last cached candle again, then an empty page: nothing new, checked again
        assert [r["startTime"] for r in server.klines_requests()[2:]] == [
            str(day_ms(dt.date(2024, 9, 9))), str(day_ms(dt.date(2024, 9, 10)))
        ]
    assert warnings_logged[0].startswith(
        "MATIC/USDT: binance has no daily candles for MATIC/USDT after 2024-09-09"
    )


def test_server_down_is_one_line_naming_the_bundled_data(cache_dir: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(DataError) as info:
        fetch(url, cache_dir)
    message = str(info.value)
    assert message.startswith("BTC/USDT: cannot download from binance (")
    assert message.endswith(
        "); offline? use the bundled data instead: set data.symbols.BTC/USDT to "
        "{source: bundled} or remove it"
    )
    assert "Connection refused" in message
    assert "\n" not in message
    assert "Traceback" not in message
    assert not (cache_dir / "ccxt").exists()


def test_unknown_market_names_it_with_a_suggestion(
    binance: FakeBinance, cache_dir: Path
) -> None:
    with pytest.raises(DataError) as info:
        fetch(binance.base_url, cache_dir, "BTC/USDX", symbol="BTC")
    assert str(info.value) == (
        "BTC: binance has no market 'BTC/USDX' (BadSymbol: binance does not have market symbol "
        "BTC/USDX); did you mean 'BTC/USDT'? set data.symbols.BTC.market to the exchange's "
        "symbol, e.g. BTC/USDT"
    )
    assert binance.klines_requests() == []


def test_a_symbol_the_exchange_rejects_is_named(binance: FakeBinance, cache_dir: Path) -> None:
    binance.rejected.add("ETHUSDT")  # listed in exchangeInfo, klines answer -1121
    with pytest.raises(DataError) as info:
        fetch(binance.base_url, cache_dir, "ETH/USDT")
    assert str(info.value) == (
        "ETH/USDT: binance has no market 'ETH/USDT' (BadSymbol: binance {\"code\": -1121, "
        "\"msg\": \"Invalid symbol.\"}); set data.symbols.ETH/USDT.market to the exchange's "
        "symbol, e.g. BTC/USDT"
    )


def test_unknown_exchange_has_a_did_you_mean(cache_dir: Path) -> None:
    with pytest.raises(DataError) as info:
        fetch_ccxt("BTC/USDT", symbol="BTC/USDT", exchange="binanse", timeframe="1d",
                   start=None, end=None, cache_dir=cache_dir)
    assert str(info.value) == (
        "BTC/USDT: unknown exchange 'binanse'; did you mean 'binance'? set "
        "data.symbols.BTC/USDT.exchange to a ccxt exchange id (e.g. binance)"
    )


def test_only_daily_candles(cache_dir: Path) -> None:
    with pytest.raises(DataError, match=r"timeframe '1h' is not supported .* set data.timeframe"):
        fetch_ccxt("BTC/USDT", symbol="BTC/USDT", exchange="binance", timeframe="1h",
                   start=None, end=None, cache_dir=cache_dir)
