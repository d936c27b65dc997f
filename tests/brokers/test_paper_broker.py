"""PaperBroker (dry run): fills exactly as the backtest's FillModel, cash never negative."""

from __future__ import annotations

import math
import random

import pytest

from papertrade.brokers.base import MarketRules
from papertrade.brokers.paper_fill import PaperBroker
from papertrade.config import BrokerConfig
from papertrade.errors import BrokerRejected, BrokerUnavailable
from papertrade.rebalance import FillModel, plan_orders

BTC, ETH = "BTC/USDT", "ETH/USDT"
MODEL = FillModel.from_bps(fee_bps=10, slippage_bps=5)


class Prices:
    """A settable price feed (what the live loop would read from the exchange)."""

    def __init__(self, **prices: float) -> None:
        self.prices = {k.replace("_", "/"): v for k, v in prices.items()}

    def __call__(self, symbol: str) -> float:
        return self.prices[symbol]


def make(cash: float = 10_000.0,
         rules: dict[str, MarketRules] | None = None) -> tuple[PaperBroker, Prices]:
    prices = Prices(BTC_USDT=42_000.0, ETH_USDT=2_300.0)
    ticks = iter(range(1_000, 10**9, 1_000))  # a clock moving 1 s per fill
    return PaperBroker(prices, MODEL, "USDT", cash=cash, rules=rules,
                       clock=lambda: next(ticks)), prices


def test_fills_follow_the_fill_model_exactly() -> None:
    broker, prices = make()
    buy = broker.market_order(BTC, "buy", 0.1, "dry-1")
    price = MODEL.fill_price("buy", 42_000.0)
    fee = MODEL.fee_for(0.1 * price)
    assert (buy.status, buy.qty, buy.filled, buy.average_price) == ("filled", 0.1, 0.1, price)
    [fill] = buy.fills
    assert (fill.trade_id, fill.client_order_id, fill.side, fill.qty) == (
        "dry-dry-1", "dry-1", "buy", 0.1)
    assert (fill.price, fill.fee, fill.fee_currency) == (price, fee, "USDT")
    assert broker.balances() == {"BTC": (0.1, 0.0), "USDT": (10_000.0 - (0.1 * price + fee), 0.0)}

    prices.prices[BTC] = 43_000.0
    sell = broker.market_order(BTC, "sell", 0.1, "dry-2")
    sell_price = MODEL.fill_price("sell", 43_000.0)
    assert sell.fills[0].price == sell_price
    assert sell.fills[0].fee == MODEL.fee_for(0.1 * sell_price)
    cash = 10_000.0 - (0.1 * price + fee) + (0.1 * sell_price - MODEL.fee_for(0.1 * sell_price))
    assert broker.balances() == {"USDT": (cash, 0.0)}
    assert sell.raw["reference_price"] == 43_000.0


def test_planned_rebalances_never_overdraw() -> None:
    """The live loop's kernel (plan_orders) + the dry run over a random walk: every planned
    order fills, no balance goes negative, cash reconciles with the fills."""
    broker, prices = make()
    rng = random.Random(3)
    for step in range(60):
        for symbol in (BTC, ETH):
            prices.prices[symbol] *= math.exp(rng.gauss(0, 0.05))
        weights = [rng.random() for _ in range(3)]
        targets = {BTC: weights[0] / sum(weights), ETH: weights[1] / sum(weights)}
        if step % 7 == 0:
            targets = {BTC: 0.0, ETH: 1.0}  # all in
        balances = broker.balances()
        positions = {s: balances.get(s.split("/")[0], (0.0, 0.0))[0] for s in (BTC, ETH)}
        orders = plan_orders(targets, positions, balances["USDT"][0], dict(prices.prices), MODEL,
                             min_notional=1.0)
        for number, order in enumerate(orders):
            broker.market_order(order.symbol, order.side, order.qty, f"s{step}-{number}")
        assert all(free >= 0 for free, _ in broker.balances().values())
    fills = broker.trades(BTC) + broker.trades(ETH)
    assert len(fills) > 60
    flows = sum(-(f.qty * f.price) - f.fee if f.side == "buy" else f.qty * f.price - f.fee
                for f in fills)
    assert broker.balances()["USDT"][0] == pytest.approx(10_000.0 + flows, abs=1e-6)


def test_insufficient_funds_leave_balances_untouched() -> None:
    broker, _ = make(cash=1_000.0)
    price = MODEL.fill_price("buy", 42_000.0)
    most = 1_000.0 / (price * (1 + MODEL.fee))
    before = broker.balances()
    for qty in (most * (1 + 1e-9), 1.0):
        with pytest.raises(BrokerRejected) as error:
            broker.market_order(BTC, "buy", qty, f"too-much-{qty}")
        assert error.value.kind == "insufficient_funds"
    with pytest.raises(BrokerRejected) as no_btc:
        broker.market_order(BTC, "sell", 0.001, "sell-nothing")
    assert no_btc.value.kind == "insufficient_funds"
    assert broker.balances() == before
    broker.market_order(BTC, "buy", most * (1 - 1e-9), "all-in")
    assert 0.0 <= broker.balances()["USDT"][0] < 1e-6
    with pytest.raises(BrokerRejected):
        broker.market_order(BTC, "sell", broker.balances()["BTC"][0] * 1.01, "oversell")
    broker.market_order(BTC, "sell", broker.balances()["BTC"][0], "all-out")
    assert "BTC" not in broker.balances()


def test_find_order_open_orders_cancel_and_trades() -> None:
    broker, _ = make()
    assert broker.find_order(BTC, "dry-a") is None
    sent = broker.market_order(BTC, "buy", 0.01, "dry-a")
    broker.market_order(ETH, "buy", 0.5, "dry-b")
    assert broker.find_order(BTC, "dry-a") == sent
    assert broker.find_order(ETH, "dry-a") is None
    assert broker.open_orders([BTC, ETH]) == []
    with pytest.raises(BrokerRejected) as cancel:
        broker.cancel(BTC, "dry-a")
    assert cancel.value.kind == "not_found"
    with pytest.raises(BrokerRejected) as duplicate:
        broker.market_order(BTC, "buy", 0.01, "dry-a")
    assert duplicate.value.kind == "invalid_order"
    assert broker.trades(BTC) == list(sent.fills)
    assert broker.trades(BTC, since_ms=sent.fills[0].time_ms + 1) == []
    assert [f.client_order_id for f in broker.trades(ETH, since_ms=0)] == ["dry-b"]
    broker.close()


def test_rules_precision_and_bad_input() -> None:
    rules = {BTC: MarketRules(BTC, amount_step=1e-5, min_amount=1e-5, min_notional=5.0)}
    broker, prices = make(rules=rules)
    assert broker.rules(ETH) == MarketRules(ETH, None, 0.0, 0.0)
    assert broker.amount_to_precision(BTC, 0.0012345678) == 0.00123
    assert broker.amount_to_precision(BTC, 0.3) == 0.3
    assert broker.amount_to_precision(BTC, 0.000009) == 0.0
    assert broker.amount_to_precision(ETH, 0.123456789) == 0.123456789
    order = broker.market_order(BTC, "buy", 0.0012345, "dry-p")
    assert order.filled == 0.00123
    for qty, kind in ((0.0001, "invalid_order"), (0.0, "invalid_order"), (-1.0, "invalid_order")):
        with pytest.raises(BrokerRejected) as error:  # 0.0001 BTC: 4.2 USDT < 5 USDT
            broker.market_order(BTC, "buy", qty, f"dry-{qty}")
        assert error.value.kind == kind
    with pytest.raises(BrokerRejected) as bad:
        broker.market_order("BTCUSDT", "buy", 1.0, "dry-bad")
    assert bad.value.kind == "bad_symbol"
    prices.prices[ETH] = float("nan")
    with pytest.raises(BrokerUnavailable):
        broker.market_order(ETH, "buy", 1.0, "dry-nan")
    assert broker.find_order(ETH, "dry-nan") is None


def test_price_source_failures_are_unavailable() -> None:
    def failing(symbol: str) -> float:
        raise ConnectionError(f"price feed down\nfor {symbol}")

    broker = PaperBroker(failing, MODEL, "USDT", cash=100.0)
    with pytest.raises(BrokerUnavailable, match="ConnectionError: price feed down for BTC") as e:
        broker.market_order(BTC, "buy", 0.001, "dry-down")
    assert e.value.__context__ is None
    assert "\n" not in str(e.value)
    assert broker.balances() == {"USDT": (100.0, 0.0)}


def test_resumed_balances_and_config() -> None:
    prices = Prices(BTC_USDT=42_000.0)
    resumed = PaperBroker(prices, MODEL, "USDT", balances={"USDT": 500.0, "BTC": 0.25})
    assert resumed.balances() == {"BTC": (0.25, 0.0), "USDT": (500.0, 0.0)}
    resumed.market_order(BTC, "sell", 0.25, "resume-1")
    assert resumed.balances()["USDT"][0] > 500.0
    config = BrokerConfig(cash=2_500.0, quote="USDT", fee_bps=20, slippage_bps=0)
    fresh = PaperBroker.from_config(config, prices)
    assert fresh.balances() == {"USDT": (2_500.0, 0.0)}
    assert fresh.fill_model == FillModel.from_bps(20, 0)
    with pytest.raises(ValueError, match="cash or balances"):
        PaperBroker(prices, MODEL, "USDT")
    with pytest.raises(ValueError, match=">= 0"):
        PaperBroker(prices, MODEL, "USDT", balances={"USDT": -1.0})
