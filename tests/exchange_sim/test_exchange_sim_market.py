"""Market data through the real ccxt client: markets, klines (pagination), tickers, book."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ccxt  # noqa: TID251
import pandas as pd
import pytest
from emulator_helpers import EmulatorFactory, control

from papertrade.data.bars import read_bundled
from papertrade.exchange_sim.clock import EmulatedClock, to_ms
from papertrade.exchange_sim.market import load_symbol
from papertrade.exchange_sim.server import EmulatorServer

DAY = 86_400_000


def _ms(text: str) -> int:
    return to_ms(text)


def test_load_markets_lists_usdt_pairs_with_filters(client: Any) -> None:
    markets = client.markets
    assert sorted(markets) == ["BTC/USDT", "ETH/USDT"]
    btc = markets["BTC/USDT"]
    assert btc["spot"]
    assert btc["active"]
    assert btc["id"] == "BTCUSDT"
    assert btc["precision"]["price"] == 0.01
    assert btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["cost"]["min"] == 5
    assert btc["limits"]["amount"] == {"min": 0.00001, "max": 9000}
    assert markets["ETH/USDT"]["precision"]["amount"] == 0.0001


def test_at_midnight_klines_hold_complete_bars_and_the_forming_open(
    client: Any, emulator: EmulatorServer
) -> None:
    bars = read_bundled("BTC/USDT")
    rows = client.fetch_ohlcv("BTC/USDT", "1d", limit=5)
    assert len(rows) == 5
    assert rows[-1][0] == _ms("2024-01-01")
    day_open = bars.loc["2024-01-01", "open"]
    assert rows[-1][1:5] == [day_open] * 4
    assert rows[-1][5] == 0
    for row in rows[:-1]:
        bar = bars.loc[pd.Timestamp(row[0], unit="ms")]
        assert row[1:6] == pytest.approx([bar.open, bar.high, bar.low, bar.close, bar.volume])
    assert client.fetch_ticker("BTC/USDT")["last"] == day_open


def test_forming_candle_follows_the_clock(client: Any, emulator: EmulatorServer) -> None:
    bar = read_bundled("BTC/USDT").loc["2024-01-01"]
    emulator.clock.advance(12 * 3600)
    forming = client.fetch_ohlcv("BTC/USDT", "1d", limit=1)[0]
    assert forming[0] == _ms("2024-01-01")
    assert forming[1] == bar.open
    assert bar.low <= forming[3] <= forming[4] <= forming[2] <= bar.high
    assert forming[5] == pytest.approx(bar.volume / 2)
    emulator.clock.set("2024-01-02T00:00:00Z")
    rows = client.fetch_ohlcv("BTC/USDT", "1d", limit=2)
    assert rows[0][1:6] == pytest.approx([bar.open, bar.high, bar.low, bar.close, bar.volume])
    assert rows[1][0] == _ms("2024-01-02")


def test_fetch_ohlcv_paginates_through_since_and_limit(client: Any) -> None:
    bars = read_bundled("BTC/USDT")
    since = _ms("2017-08-17")
    collected: list[list[Any]] = []
    while True:
        page = client.fetch_ohlcv("BTC/USDT", "1d", since=since, limit=1000)
        if not page:
            break
        assert len(page) <= 1000
        collected.extend(page)
        since = page[-1][0] + DAY
    expected = bars.loc[:"2023-12-31"]
    assert len(collected) == len(expected) + 1  # plus the forming 2024-01-01 bar
    assert [r[0] for r in collected[:-1]] == [int(t.value // 1_000_000) for t in expected.index]
    assert [r[4] for r in collected[:-1]] == expected["close"].tolist()
    assert collected[-1][0] == _ms("2024-01-01")


def test_klines_errors_map_like_binance(client: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="-1120"):
        client.public_get_klines({"symbol": "BTCUSDT", "interval": "1h"})
    with pytest.raises(ccxt.BadRequest, match="-1130"):
        client.public_get_klines({"symbol": "BTCUSDT", "interval": "1d", "limit": 1001})
    with pytest.raises(ccxt.BadSymbol):
        client.public_get_klines({"symbol": "XYZUSDT", "interval": "1d"})
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        client.public_get_klines({"symbol": "BTCUSDT"})


def test_ticker_book_and_spread(emulator_factory: EmulatorFactory) -> None:
    from papertrade.brokers.ccxt_emulator import make_emulator_client

    server = emulator_factory(spread_bps=20)
    ex = make_emulator_client(server.base_url, server.api_key, server.secret)
    open_ = read_bundled("ETH/USDT").loc["2024-01-01", "open"]
    ticker = ex.fetch_ticker("ETH/USDT")
    assert ticker["last"] == open_
    assert ticker["bid"] == pytest.approx(open_ * 0.999, abs=0.01)
    assert ticker["ask"] == pytest.approx(open_ * 1.001, abs=0.01)
    assert ticker["bid"] < ticker["last"] < ticker["ask"]
    book = ex.fetch_order_book("ETH/USDT", limit=5)
    assert book["bids"][0][0] == ticker["bid"]
    assert book["asks"][0][0] == ticker["ask"]
    assert len(book["bids"]) == 5
    assert book["bids"][1][0] < book["bids"][0][0]
    tickers = ex.fetch_tickers()
    assert set(tickers) == {"BTC/USDT", "ETH/USDT"}


def test_symbol_outside_its_data_is_not_trading(emulator_factory: EmulatorFactory) -> None:
    from papertrade.brokers.ccxt_emulator import make_emulator_client

    server = emulator_factory(symbols=["BTC/USDT", "SOL/USDT"], start="2019-01-01")
    ex = make_emulator_client(server.base_url, server.api_key, server.secret)
    ex.load_markets()
    assert ex.markets["BTC/USDT"]["active"]
    assert not ex.markets["SOL/USDT"]["active"]
    assert ex.fetch_ohlcv("SOL/USDT", "1d") == []
    with pytest.raises(ccxt.MarketClosed):
        ex.create_order("SOL/USDT", "market", "buy", 10.0, params={"newClientOrderId": "sol-1"})


def test_price_path_is_deterministic_and_crosses_the_day_range() -> None:
    btc = load_symbol("BTC/USDT")
    i = btc.day_index(_ms("2024-01-01"))
    o, h, low, c = btc.opens[i], btc.highs[i], btc.lows[i], btc.closes[i]
    day = btc.day_ms[i]
    assert btc.mid(day) == o
    first, second = (low, h) if c >= o else (h, low)
    assert btc.mid(day + 8 * 3_600_000) == first
    assert btc.mid(day + 16 * 3_600_000) == second
    lo_seen, hi_seen = btc.extremes(day, day + DAY - 1)
    assert lo_seen == pytest.approx(low)
    assert hi_seen == pytest.approx(h)
    assert btc.mid(day + DAY - 1) == pytest.approx(c, rel=1e-6)
    assert btc.mid(day + DAY) == btc.opens[i + 1]
    touch = btc.first_touch(day, day + DAY - 1, (o + low) / 2, from_above=True)
    assert touch is not None
    assert day < touch < day + DAY
    assert btc.mid(touch) <= (o + low) / 2 + 1e-6
    assert btc.first_touch(day, day + DAY - 1, low - 1, from_above=True) is None


def test_clock_modes_and_no_going_back() -> None:
    step = EmulatedClock("2024-01-01")
    assert step.now() == datetime(2024, 1, 1, tzinfo=UTC)
    assert step.advance(90) == _ms("2024-01-01T00:01:30Z")
    with pytest.raises(ValueError, match="backwards"):
        step.set("2023-12-31")
    fast = EmulatedClock("2024-01-01", mode="speed", speed=3600)
    first = fast.now_ms()
    import time

    time.sleep(0.05)
    assert fast.now_ms() - first >= 0.05 * 3600 * 1000 * 0.9


def test_clock_control_route(emulator: EmulatorServer) -> None:
    status, body = control(emulator, "POST", "/_emulator/clock", {"advance_seconds": 3600})
    assert status == 200
    assert body["now"] == "2024-01-01T01:00:00.000Z"
    status, body = control(emulator, "POST", "/_emulator/clock", {"to": "2024-02-01T00:00:00Z"})
    assert status == 200
    assert emulator.clock.now_ms() == _ms("2024-02-01")
    status, body = control(emulator, "POST", "/_emulator/clock", {"to": "2024-01-01"})
    assert status == 400
    assert "backwards" in body["error"]
    status, body = control(emulator, "GET", "/_emulator/state")
    assert status == 200
    assert body["clock"]["now_ms"] == _ms("2024-02-01")
    btc = next(s for s in body["symbols"] if s["symbol"] == "BTCUSDT")
    assert float(btc["price"]) == read_bundled("BTC/USDT").loc["2024-02-01", "open"]


def test_speed_mode_runs_the_market_clock(emulator_factory: EmulatorFactory) -> None:
    from papertrade.brokers.ccxt_emulator import make_emulator_client

    server = emulator_factory(speed=86_400)  # one emulated day per real second
    ex = make_emulator_client(server.base_url, server.api_key, server.secret)
    first = ex.fetch_ohlcv("BTC/USDT", "1d", limit=1)[0]
    import time

    time.sleep(0.3)
    later = ex.fetch_ohlcv("BTC/USDT", "1d", limit=1)[0]
    assert later[0] == first[0] == _ms("2024-01-01")
    assert later[5] > first[5]
    assert server.clock.describe()["mode"] == "speed"
