"""Orders, fills, fees and balances through the real sync ccxt client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt  # noqa: TID251
import pytest
from emulator_helpers import EmulatorFactory, assert_balances_consistent

from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.data.bars import read_bundled
from papertrade.exchange_sim.server import EmulatorServer

BTC_OPEN = read_bundled("BTC/USDT").loc["2024-01-01", "open"]  # 42283.58
DEPOSITS = {"USDT": Decimal(10_000)}


def test_market_buy_fills_at_the_open_with_our_client_id_and_fee(
    client: Any, emulator: EmulatorServer
) -> None:
    order = client.create_order("BTC/USDT", "market", "buy", 0.01,
                                params={"newClientOrderId": "pt-buy-1"})
    assert order["clientOrderId"] == "pt-buy-1"
    assert order["status"] == "closed"
    assert order["filled"] == 0.01
    assert order["average"] == BTC_OPEN
    fills = order["info"]["fills"]
    assert len(fills) == 1
    assert fills[0]["commissionAsset"] == "BTC"
    assert Decimal(fills[0]["commission"]) == Decimal("0.00001")
    balance = client.fetch_balance()
    assert balance["BTC"]["free"] == pytest.approx(0.00999)
    assert balance["USDT"]["free"] == pytest.approx(10_000 - 422.8358)
    assert_balances_consistent(emulator, client.fetch_my_trades("BTC/USDT"), DEPOSITS)


def test_limit_order_rests_locks_funds_and_fills_when_the_path_crosses(
    client: Any, emulator: EmulatorServer
) -> None:
    day_low = read_bundled("BTC/USDT").loc["2024-01-01", "low"]
    limit = round(day_low + 100, 2)
    order = client.create_order("BTC/USDT", "limit", "buy", 0.02, limit,
                                params={"newClientOrderId": "pt-limit-1"})
    assert order["status"] == "open"
    assert order["filled"] == 0
    balance = client.fetch_balance()
    locked = Decimal(str(limit)) * Decimal("0.02")
    assert Decimal(balance["info"]["balances"][0]["locked"]) == locked
    assert [o["id"] for o in client.fetch_open_orders("BTC/USDT")] == [order["id"]]

    emulator.clock.advance(86_400)
    filled = client.fetch_order(order["id"], "BTC/USDT")
    assert filled["status"] == "closed"
    assert filled["filled"] == 0.02
    assert filled["average"] == limit
    trade = client.fetch_my_trades("BTC/USDT")[0]
    assert trade["takerOrMaker"] == "maker"
    assert trade["price"] == limit
    assert "2024-01-01T" in trade["datetime"]
    assert trade["datetime"] > "2024-01-01T00:00:00"
    assert client.fetch_open_orders("BTC/USDT") == []
    assert client.fetch_balance()["USDT"]["used"] == 0
    assert_balances_consistent(emulator, client.fetch_my_trades("BTC/USDT"), DEPOSITS)


def test_partial_fills_when_configured(emulator_factory: EmulatorFactory) -> None:
    server = emulator_factory(partial_fill_ratio=0.25)
    ex = make_emulator_client(server.base_url, server.api_key, server.secret)
    ex.load_markets()
    eth_low = read_bundled("ETH/USDT").loc["2024-01-01", "low"]
    order = ex.create_order("ETH/USDT", "limit", "buy", 1.0, round(eth_low + 5, 2),
                            params={"newClientOrderId": "pt-partial"})
    statuses = []
    for _ in range(6):
        server.clock.advance(4 * 3600)
        seen = ex.fetch_order(None, "ETH/USDT", params={"origClientOrderId": "pt-partial"})
        statuses.append((seen["status"], seen["filled"]))
    assert ("open", 0.25) in statuses or ("open", 0.5) in statuses
    final = ex.fetch_order(order["id"], "ETH/USDT")
    trades = ex.fetch_my_trades("ETH/USDT")
    assert sum(t["amount"] for t in trades) == pytest.approx(final["filled"])
    assert all(t["amount"] == 0.25 for t in trades)
    assert_balances_consistent(server, trades, DEPOSITS)


def test_marketable_limit_fills_at_once_as_taker(client: Any) -> None:
    order = client.create_order("ETH/USDT", "limit", "buy", 0.1, 5000.0,
                                params={"newClientOrderId": "pt-taker"})
    assert order["status"] == "closed"
    assert order["average"] == read_bundled("ETH/USDT").loc["2024-01-01", "open"]
    assert client.fetch_my_trades("ETH/USDT")[0]["takerOrMaker"] == "taker"


def test_fetch_order_by_id_and_client_id_and_cancel(client: Any) -> None:
    order = client.create_order("BTC/USDT", "limit", "buy", 0.001, 30000.0,
                                params={"newClientOrderId": "pt-cancel-me"})
    by_id = client.fetch_order(order["id"], "BTC/USDT")
    by_client = client.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "pt-cancel-me"})
    assert by_id["id"] == by_client["id"] == order["id"]
    assert by_client["clientOrderId"] == "pt-cancel-me"
    assert client.fetch_balance()["USDT"]["used"] == 30.0
    canceled = client.cancel_order(order["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert client.fetch_order(order["id"], "BTC/USDT")["status"] == "canceled"
    assert client.fetch_balance()["USDT"] == {"free": 10_000.0, "used": 0.0, "total": 10_000.0}
    with pytest.raises(ccxt.OrderNotFound):
        client.cancel_order(order["id"], "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order("424242", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "never-sent"})
    orders = client.fetch_orders("BTC/USDT")
    assert [o["status"] for o in orders] == ["canceled"]


def test_filters_are_enforced_by_the_emulator_not_only_by_ccxt(client: Any) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "newClientOrderId": "pt-raw"}
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        client.private_post_order({**base, "quantity": "0.000015", "price": "40000"})
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        client.private_post_order({**base, "quantity": "0.001", "price": "40000.005"})
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        client.private_post_order({**base, "quantity": "0.0001", "price": "40000"})
    # ccxt itself lets a below-minimum notional through: the emulator refuses it
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        client.create_order("BTC/USDT", "market", "buy", 0.0001,
                            params={"newClientOrderId": "pt-small"})
    with pytest.raises(ccxt.BadRequest, match="-1111"):
        client.private_post_order({**base, "quantity": "0.000000001", "price": "40000"})
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        client.private_post_order({**base, "price": "40000"})
    assert client.fetch_open_orders("BTC/USDT") == []


def test_insufficient_funds_and_duplicate_client_ids(client: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        client.create_order("BTC/USDT", "market", "buy", 1.0, params={"newClientOrderId": "big"})
    with pytest.raises(ccxt.InsufficientFunds):
        client.create_order("ETH/USDT", "market", "sell", 0.1, params={"newClientOrderId": "s"})
    client.create_order("BTC/USDT", "limit", "buy", 0.001, 30000.0,
                        params={"newClientOrderId": "dup"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        client.create_order("BTC/USDT", "limit", "buy", 0.001, 30000.0,
                            params={"newClientOrderId": "dup"})
    assert len(client.fetch_open_orders("BTC/USDT")) == 1


def test_quote_order_qty_market_order(client: Any) -> None:
    # ccxt turns a market buy given a price into quoteOrderQty = amount * price, rounded to
    # the quote precision (422.83); the emulator buys as many steps as that pays for
    order = client.create_order("BTC/USDT", "market", "buy", 0.01, BTC_OPEN,
                                params={"newClientOrderId": "pt-quote"})
    assert order["info"]["origQuoteOrderQty"] == "422.83000000"
    assert order["filled"] == 0.00999
    assert order["cost"] == pytest.approx(0.00999 * BTC_OPEN)


def test_sell_round_trip_keeps_balances_consistent(client: Any, emulator: EmulatorServer) -> None:
    client.create_order("ETH/USDT", "market", "buy", 1.5, params={"newClientOrderId": "rt-1"})
    emulator.clock.advance(3 * 86_400)
    eth = client.fetch_balance()["ETH"]["free"]
    client.create_order("ETH/USDT", "market", "sell", client.amount_to_precision("ETH/USDT", eth),
                        params={"newClientOrderId": "rt-2"})
    client.create_order("ETH/USDT", "limit", "buy", 0.5, 1000.0,
                        params={"newClientOrderId": "rt-3"})
    trades = client.fetch_my_trades("ETH/USDT")
    assert [t["side"] for t in trades] == ["buy", "sell"]
    assert trades[1]["fee"]["currency"] == "USDT"
    assert_balances_consistent(emulator, trades, DEPOSITS)


def test_market_orders_pay_the_spread(emulator_factory: EmulatorFactory) -> None:
    server = emulator_factory(spread_bps=10)
    ex = make_emulator_client(server.base_url, server.api_key, server.secret)
    ticker = ex.fetch_ticker("BTC/USDT")
    bought = ex.create_order("BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "b"})
    sold = ex.create_order("BTC/USDT", "market", "sell", 0.0099, params={"newClientOrderId": "s"})
    assert bought["average"] == ticker["ask"] == pytest.approx(BTC_OPEN * 1.0005, abs=0.01)
    assert sold["average"] == ticker["bid"] == pytest.approx(BTC_OPEN * 0.9995, abs=0.01)
    assert_balances_consistent(server, ex.fetch_my_trades("BTC/USDT"), DEPOSITS)
