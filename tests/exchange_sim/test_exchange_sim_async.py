"""The same surface through ccxt's asyncio client (aiohttp), run with ``asyncio.run``."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt  # noqa: TID251
import pytest
from emulator_helpers import assert_balances_consistent

from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.data.bars import read_bundled
from papertrade.exchange_sim.clock import to_ms
from papertrade.exchange_sim.server import EmulatorServer

DAY = 86_400_000


def _run(server: EmulatorServer, scenario: Any) -> Any:
    async def main() -> Any:
        ex = make_emulator_client(server.base_url, server.api_key, server.secret, asyncio=True)
        try:
            await ex.load_markets()
            return await scenario(ex)
        finally:
            await ex.close()

    return asyncio.run(main())


def test_async_market_data(emulator: EmulatorServer) -> None:
    async def scenario(ex: Any) -> None:
        assert ex.markets["BTC/USDT"]["precision"]["amount"] == 0.00001
        since, rows = to_ms("2020-01-01"), []
        while page := await ex.fetch_ohlcv("ETH/USDT", "1d", since=since, limit=500):
            rows.extend(page)
            since = page[-1][0] + DAY
        expected = read_bundled("ETH/USDT").loc["2020-01-01":"2023-12-31"]
        assert [r[4] for r in rows[:-1]] == expected["close"].tolist()
        assert rows[-1][0] == to_ms("2024-01-01")
        ticker, balance = await asyncio.gather(ex.fetch_ticker("ETH/USDT"), ex.fetch_balance())
        assert ticker["last"] == read_bundled("ETH/USDT").loc["2024-01-01", "open"]
        assert balance["USDT"]["free"] == 10_000

    _run(emulator, scenario)


def test_async_orders_round_trip(emulator: EmulatorServer) -> None:
    async def scenario(ex: Any) -> None:
        market = await ex.create_order("BTC/USDT", "market", "buy", 0.005,
                                       params={"newClientOrderId": "a-market"})
        assert market["status"] == "closed"
        assert market["clientOrderId"] == "a-market"
        limit = await ex.create_order("BTC/USDT", "limit", "buy", 0.005, 35000.0,
                                      params={"newClientOrderId": "a-limit"})
        by_id, by_client = await asyncio.gather(
            ex.fetch_order(limit["id"], "BTC/USDT"),
            ex.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "a-limit"}),
        )
        assert by_id["id"] == by_client["id"] == limit["id"]
        assert [o["id"] for o in await ex.fetch_open_orders("BTC/USDT")] == [limit["id"]]
        assert (await ex.cancel_order(limit["id"], "BTC/USDT"))["status"] == "canceled"
        trades = await ex.fetch_my_trades("BTC/USDT")
        assert [t["order"] for t in trades] == [market["id"]]
        with pytest.raises(ccxt.OrderNotFound):
            await ex.cancel_order(limit["id"], "BTC/USDT")
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order("BTC/USDT", "market", "buy", 5.0,
                                  params={"newClientOrderId": "a-big"})
        with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
            await ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                         "quantity": "0.0010001", "newClientOrderId": "a-lot"})
        return trades

    trades = _run(emulator, scenario)
    assert_balances_consistent(emulator, trades, {"USDT": 10_000})


def test_async_faults_surface_as_ccxt_errors(emulator: EmulatorServer) -> None:
    async def scenario(ex: Any) -> None:
        emulator.set_faults([{"route": "POST /api/v3/order", "kind": "response_lost"}])
        with pytest.raises(ccxt.NetworkError):
            await ex.create_order("ETH/USDT", "market", "buy", 0.01,
                                  params={"newClientOrderId": "a-lost"})
        emulator.set_faults([{"route": "GET /api/v3/account", "kind": "rate_limit"}])
        with pytest.raises(ccxt.DDoSProtection):
            await ex.fetch_balance()
        emulator.set_faults([{"route": "GET /api/v3/account", "kind": "server_error"}])
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await ex.fetch_balance()
        emulator.set_faults([])
        found = await ex.fetch_order(None, "ETH/USDT", params={"origClientOrderId": "a-lost"})
        assert found["status"] == "closed"
        assert found["filled"] == 0.01

    _run(emulator, scenario)
