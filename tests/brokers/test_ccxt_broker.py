"""CcxtBroker against the real exchange emulator through the real ccxt client."""

from __future__ import annotations

import re
import time
import traceback
from typing import Any

import ccxt  # noqa: TID251
import pytest

from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.brokers.ccxt_exchange import CcxtBroker, check_sandbox
from papertrade.errors import BrokerError, BrokerRejected, BrokerUnavailable
from papertrade.exchange_sim.server import EmulatorServer

BTC = "BTC/USDT"
BTC_OPEN = 42283.58  # the emulator's BTC price at 2024-01-01 00:00


def raw_client(emulator: EmulatorServer) -> Any:
    """A plain ccxt client on the emulator, to act behind the broker's back."""
    return make_emulator_client(emulator.base_url, emulator.api_key, emulator.secret)


def order_count(emulator: EmulatorServer, symbol: str = BTC) -> int:
    return len(raw_client(emulator).fetch_orders(symbol))


# --------------------------------------------------------------------------- markets, account


def test_rules_and_precision(broker: CcxtBroker) -> None:
    rules = broker.rules(BTC)
    assert (rules.amount_step, rules.min_amount, rules.min_notional) == (1e-05, 1e-05, 5.0)
    assert broker.amount_to_precision(BTC, 0.0012345678) == 0.00123  # truncated, not rounded
    assert broker.amount_to_precision(BTC, 0.0019999) == 0.00199
    assert broker.amount_to_precision(BTC, 0.000009) == 0.0  # below one step / the minimum
    assert broker.amount_to_precision(BTC, 0.0) == 0.0
    with pytest.raises(BrokerRejected) as below_notional:  # 0.0001 BTC ~ 4.2 USDT < 5
        broker.market_order(BTC, "buy", 0.0001, "pt-small")
    assert below_notional.value.kind == "invalid_order"
    assert "NOTIONAL" in str(below_notional.value)


def test_balances_and_last_price(broker: CcxtBroker, emulator: EmulatorServer) -> None:
    assert broker.balances() == {"USDT": (10_000.0, 0.0)}
    assert broker.last_price(BTC) == BTC_OPEN
    emulator.clock.set("2024-01-02T00:00:00Z")
    assert broker.last_price(BTC) != BTC_OPEN


# --------------------------------------------------------------------------- orders


def test_market_buy_and_sell_parse_fills_and_fees(broker: CcxtBroker) -> None:
    buy = broker.market_order(BTC, "buy", 0.0012345, "pt-buy-1")
    assert (buy.client_order_id, buy.status, buy.side, buy.symbol) == (
        "pt-buy-1", "filled", "buy", BTC)
    assert buy.qty == buy.filled == 0.00123  # ccxt truncated the amount to the lot size
    assert buy.average_price == BTC_OPEN
    assert buy.raw["clientOrderId"] == "pt-buy-1"
    [fill] = buy.fills
    assert (fill.client_order_id, fill.side, fill.qty, fill.price) == (
        "pt-buy-1", "buy", 0.00123, BTC_OPEN)
    assert fill.fee == pytest.approx(0.00123 * 0.001)
    assert fill.fee_currency == "BTC"
    assert fill.trade_id == f"BTCUSDT-{buy.raw['fills'][0]['tradeId']}"
    assert fill.time_ms == 1_704_067_200_000
    free_btc = broker.balances()["BTC"][0]
    assert free_btc == pytest.approx(0.00123 * 0.999)

    sell = broker.market_order(BTC, "sell", free_btc, "pt-sell-1")
    assert sell.status == "filled"
    assert sell.filled == 0.00122
    [sold] = sell.fills
    assert (sold.side, sold.fee_currency) == ("sell", "USDT")
    assert sold.fee == pytest.approx(0.00122 * BTC_OPEN * 0.001)

    # trades() reports the same fills with the same ids: the caller can dedupe by trade_id
    trades = broker.trades(BTC)
    assert trades == [*buy.fills, *sell.fills]
    assert broker.trades(BTC, since_ms=fill.time_ms + 1) == []
    assert broker.trades("ETH/USDT") == []


def test_find_order_by_client_id(broker: CcxtBroker) -> None:
    assert broker.find_order(BTC, "pt-never-sent") is None
    sent = broker.market_order(BTC, "buy", 0.002, "pt-find-1")
    found = broker.find_order(BTC, "pt-find-1")
    assert found is not None
    assert (found.client_order_id, found.exchange_id, found.status, found.filled) == (
        "pt-find-1", sent.exchange_id, "filled", 0.002)
    assert found.fills == sent.fills  # find_order returns the order's fills (myTrades)


def test_trades_map_unknown_orders_to_their_client_id(broker: CcxtBroker,
                                                      emulator: EmulatorServer) -> None:
    raw_client(emulator).create_order(BTC, "market", "buy", 0.001, None,
                                      {"newClientOrderId": "made-elsewhere"})
    fresh = CcxtBroker.for_emulator(emulator.base_url, emulator.api_key, emulator.secret, "USDT")
    [fill] = fresh.trades(BTC)
    assert (fill.client_order_id, fill.qty, fill.side) == ("made-elsewhere", 0.001, "buy")
    fresh.close()


def test_open_orders_and_cancel(broker: CcxtBroker, emulator: EmulatorServer) -> None:
    raw_client(emulator).create_order(BTC, "limit", "buy", 0.001, 30_000.0,
                                      {"newClientOrderId": "pt-resting"})
    [resting] = broker.open_orders([BTC, "ETH/USDT"])
    assert (resting.client_order_id, resting.status, resting.filled) == ("pt-resting", "open", 0)
    assert broker.balances()["USDT"] == (10_000.0 - 30.0, 30.0)
    broker.cancel(BTC, "pt-resting")
    assert broker.open_orders([BTC]) == []
    with pytest.raises(BrokerRejected) as again:
        broker.cancel(BTC, "pt-resting")
    assert again.value.kind == "not_found"


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("kind", ["response_lost", "unknown_status"])
def test_lost_answer_is_unavailable_and_the_order_is_found(
        broker: CcxtBroker, emulator: EmulatorServer, kind: str) -> None:
    emulator.set_faults([{"route": "POST /api/v3/order", "kind": kind, "rate": 1.0, "seed": 1}])
    with pytest.raises(BrokerUnavailable):
        broker.market_order(BTC, "buy", 0.001, "pt-lost-1")
    emulator.set_faults([])
    found = broker.find_order(BTC, "pt-lost-1")
    assert found is not None
    assert (found.status, found.filled, len(found.fills)) == ("filled", 0.001, 1)
    assert order_count(emulator) == 1


@pytest.mark.parametrize(("rule", "retry_after"), [
    ({"kind": "rate_limit", "retry_after": 7}, 7.0),
    ({"kind": "ban", "retry_after": 3}, 3.0),
    ({"kind": "server_error", "status": 502}, None),
    ({"kind": "server_error", "status": 503}, None),
])
def test_transient_faults_are_unavailable(broker: CcxtBroker, emulator: EmulatorServer,
                                          rule: dict[str, Any], retry_after: float | None) -> None:
    broker.rules(BTC)  # markets loaded before the fault
    emulator.set_faults([{"route": "POST /api/v3/order", **rule}])
    with pytest.raises(BrokerUnavailable) as error:
        broker.market_order(BTC, "buy", 0.001, "pt-fault")
    assert error.value.retry_after == retry_after
    assert "\n" not in str(error.value)
    assert "<" not in str(error.value).replace("<redacted>", "")  # no HTML
    emulator.set_faults([])  # also lifts a ban
    assert broker.find_order(BTC, "pt-fault") is None  # refused: nothing was executed


def test_timeout_is_unavailable(emulator: EmulatorServer) -> None:
    broker = CcxtBroker.for_emulator(emulator.base_url, emulator.api_key, emulator.secret,
                                     "USDT", timeout_ms=300)
    broker.rules(BTC)
    emulator.set_faults([{"route": "GET /api/v3/account", "kind": "timeout",
                          "latency_ms": 1000}])
    started = time.perf_counter()
    with pytest.raises(BrokerUnavailable, match="RequestTimeout"):
        broker.balances()
    assert time.perf_counter() - started < 0.9


# --------------------------------------------------------------------------- rejections


def test_deterministic_rejections(broker: CcxtBroker, emulator: EmulatorServer) -> None:
    with pytest.raises(BrokerRejected) as funds:
        broker.market_order(BTC, "buy", 1.0, "pt-too-big")
    assert funds.value.kind == "insufficient_funds"
    for call in (lambda: broker.last_price("FOO/USDT"), lambda: broker.rules("FOO/USDT"),
                 lambda: broker.market_order("FOO/USDT", "buy", 1.0, "pt-foo")):
        with pytest.raises(BrokerRejected) as bad:
            call()
        assert bad.value.kind == "bad_symbol"
    with pytest.raises(BrokerRejected) as zero:
        broker.market_order(BTC, "buy", 0.0, "pt-zero")
    assert zero.value.kind == "invalid_order"
    for key, secret in ((emulator.api_key, "0" * 64), ("k" * 64, emulator.secret)):
        wrong = CcxtBroker.for_emulator(emulator.base_url, key, secret, "USDT")
        with pytest.raises(BrokerRejected) as auth:
            wrong.balances()
        assert auth.value.kind == "auth"
    assert order_count(emulator) == 0


def test_errors_never_show_credentials(emulator: EmulatorServer,
                                      credentials: tuple[str, str]) -> None:
    key, secret = credentials
    broker = CcxtBroker.for_emulator(emulator.base_url, key, secret, "USDT", timeout_ms=300)
    assert broker.balances()["USDT"] == (10_000.0, 0.0)
    errors: list[BrokerError] = []

    def collect(call: Any) -> None:
        try:
            call()
        except BrokerError as error:
            errors.append(error)

    faults: list[dict[str, Any]] = [
        {"kind": "response_lost"}, {"kind": "unknown_status"}, {"kind": "rate_limit"},
        {"kind": "server_error", "status": 500}, {"kind": "timeout", "latency_ms": 600},
        {"kind": "ban", "retry_after": 1},
    ]
    for number, fault in enumerate(faults):
        for route in ("POST /api/v3/order", "GET /api/v3/account", "GET /api/v3/myTrades"):
            emulator.set_faults([{"route": route, **fault}])
            collect(lambda n=number: broker.market_order(BTC, "buy", 0.001, f"pt-s{n}"))
            collect(broker.balances)
            collect(lambda: broker.trades(BTC))
        emulator.set_faults([])
    collect(lambda: broker.market_order(BTC, "buy", 1.0, "pt-funds"))
    collect(lambda: broker.market_order(BTC, "buy", 0.0001, "pt-notional"))
    collect(lambda: broker.cancel(BTC, "pt-nothing"))
    collect(lambda: broker.market_order("FOO/USDT", "buy", 1, "pt-foo"))
    for wrong_key, wrong_secret in ((key, secret[:-1] + "X"), (key[:-1] + "X", secret)):
        wrong = CcxtBroker.for_emulator(emulator.base_url, wrong_key, wrong_secret, "USDT")
        collect(wrong.balances)
        collect(lambda w=wrong: w.market_order(BTC, "buy", 0.001, "pt-wrong"))
    kinds = {type(e).__name__ + ":" + getattr(e, "kind", "") for e in errors}
    assert kinds >= {"BrokerUnavailable:", "BrokerRejected:insufficient_funds",
                     "BrokerRejected:invalid_order", "BrokerRejected:not_found",
                     "BrokerRejected:bad_symbol", "BrokerRejected:auth"}
    assert len(errors) >= 30
    for error in errors:
        assert error.__cause__ is None and error.__context__ is None
        assert "ccxt" not in type(error).__module__
        shown = "\n".join([str(error), repr(error), *map(str, error.args),
                           *traceback.format_exception(error)])
        for hidden in (key, secret, key[:-1], secret[:-1], "signature=", "timestamp="):
            assert hidden not in shown, (hidden, shown)
        assert not re.search(r"[0-9a-f]{64}", shown)  # no HMAC signature
        assert "\n" not in str(error) and len(str(error)) <= 300


# --------------------------------------------------------------------------- mainnet guard


def test_check_sandbox() -> None:
    assert check_sandbox("binance") == []
    [problem] = check_sandbox("kraken")
    assert "kraken has no sandbox" in problem
    assert "binance" in problem and "bybit" in problem
    assert "no-such-exchange" in check_sandbox("no-such-exchange")[0]


def test_exchange_without_sandbox_is_refused_before_any_request(
        socket_log: list[tuple[str, str]]) -> None:
    with pytest.raises(BrokerRejected) as refused:  # the balance call is never reached
        CcxtBroker.for_testnet("kraken", "key", "secret", "USD").balances()
    assert refused.value.kind == "not_supported"
    assert "kraken" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert socket_log == []


def test_overridden_url_is_refused_before_any_request(emulator: EmulatorServer) -> None:
    # sandbox mode on, but urls['api'] pointed elsewhere (here: the emulator, standing in for
    # a mainnet host); the emulator counts every request it receives
    client = make_emulator_client(emulator.base_url, emulator.api_key, emulator.secret)
    assert client.isSandboxModeEnabled
    with pytest.raises(BrokerRejected, match="not a sandbox URL") as refused:
        CcxtBroker(client, "USDT").balances()
    assert refused.value.kind == "not_supported"
    assert emulator.state()["requests"] == {}
    # control: the same client without the guard does reach that host
    assert CcxtBroker(client, "USDT", require_sandbox=False).balances()["USDT"][0] == 10_000
    assert emulator.state()["requests"]


def test_sandbox_urls_come_from_the_exchange_class(socket_log: list[tuple[str, str]]) -> None:
    client = ccxt.binance({"apiKey": "k", "secret": "s"})
    client.urls["test"] = client.urls["api"]  # "sandbox" = mainnet on this instance
    client.set_sandbox_mode(True)
    with pytest.raises(BrokerRejected, match=r"api\.binance\.com") as refused:
        CcxtBroker(client, "USDT").balances()
    assert refused.value.kind == "not_supported"
    assert socket_log == []


def test_url_changed_after_construction_is_refused(emulator: EmulatorServer,
                                                    socket_log: list[tuple[str, str]]) -> None:
    client = ccxt.binance({"apiKey": "k", "secret": "s",
                           "options": {"fetchMarkets": {"types": ["spot"]}}})
    client.set_sandbox_mode(True)
    broker = CcxtBroker(client, "USDT")  # a genuine sandbox client: accepted, nothing sent
    assert broker.name == "binance-sandbox"
    client.urls["api"]["private"] = emulator.base_url + "/api/v3"
    socket_log.clear()
    with pytest.raises(BrokerRejected, match="private"):
        broker.balances()
    assert socket_log == []
    assert emulator.state()["requests"] == {}


def test_for_testnet_builds_a_sandbox_client(socket_log: list[tuple[str, str]]) -> None:
    broker = CcxtBroker.for_testnet("binance", "key", "secret", "USDT")
    assert broker.name == "binance-testnet"
    assert socket_log == []
    with pytest.raises(BrokerRejected) as no_keys:
        CcxtBroker.for_testnet("binance", "", "", "USDT")
    assert no_keys.value.kind == "auth"
    with pytest.raises(BrokerRejected) as no_sandbox:  # the sandbox check comes first
        CcxtBroker.for_testnet("kraken", "", "", "USD")
    assert no_sandbox.value.kind == "not_supported"
    with pytest.raises(BrokerRejected, match="loopback"):
        CcxtBroker.for_emulator("http://203.0.113.5:8080", "k", "s", "USDT")
