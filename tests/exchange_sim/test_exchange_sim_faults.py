"""Authentication, request-time checks and injected faults as ccxt surfaces them."""

from __future__ import annotations

import time
from typing import Any

import ccxt  # noqa: TID251
import pytest
from emulator_helpers import EmulatorFactory, control
from loguru import logger

from papertrade.brokers.ccxt_emulator import make_emulator_client, verify_urls
from papertrade.exchange_sim.clock import wall_ms
from papertrade.exchange_sim.faults import FaultRule
from papertrade.exchange_sim.server import EmulatorServer


def test_bad_signature_and_unknown_key_are_authentication_errors(
    emulator: EmulatorServer,
) -> None:
    wrong_secret = make_emulator_client(emulator.base_url, emulator.api_key, "0" * 64)
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        wrong_secret.fetch_balance()
    unknown_key = make_emulator_client(emulator.base_url, "k" * 64, emulator.secret)
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        unknown_key.fetch_balance()


def test_stale_and_future_timestamps_are_refused(client: Any) -> None:
    with pytest.raises(ccxt.InvalidNonce, match="outside of the recvWindow"):
        client.fetch_balance({"timestamp": wall_ms() - 20_000})
    with pytest.raises(ccxt.InvalidNonce, match="ahead of the server"):
        client.fetch_balance({"timestamp": wall_ms() + 5_000})
    with pytest.raises(ccxt.BadRequest, match="-1131"):
        client.fetch_balance({"recvWindow": 70_000})
    assert client.fetch_balance({"recvWindow": 60_000})["USDT"]["free"] == 10_000


def test_rate_limit_and_ban_carry_retry_after(emulator: EmulatorServer, client: Any) -> None:
    emulator.set_faults([{"route": "/api/v3/ticker/24hr", "kind": "rate_limit",
                          "retry_after": 7}])
    with pytest.raises(ccxt.DDoSProtection, match="429"):
        client.fetch_ticker("BTC/USDT")
    assert client.last_response_headers["Retry-After"] == "7"
    emulator.set_faults([{"route": "GET /api/v3/account", "kind": "ban", "retry_after": 1,
                          "count": 1}])
    with pytest.raises(ccxt.DDoSProtection, match="418"):
        client.fetch_balance()
    with pytest.raises(ccxt.DDoSProtection, match="418"):  # the ban covers every route
        client.fetch_ticker("BTC/USDT")
    assert client.last_response_headers["Retry-After"] == "1"
    time.sleep(1.1)
    assert client.fetch_ticker("BTC/USDT")["last"] > 0


def test_server_error_is_html_and_exchange_not_available(emulator: EmulatorServer,
                                                         client: Any) -> None:
    emulator.set_faults([FaultRule(kind="server_error", route="GET /api/v3/openOrders",
                                   status=502)])
    with pytest.raises(ccxt.ExchangeNotAvailable, match="502"):
        client.fetch_open_orders("BTC/USDT")
    assert client.last_http_response.startswith("<html>")


def test_unknown_status_executes_and_is_a_request_timeout(emulator: EmulatorServer,
                                                          client: Any) -> None:
    emulator.set_faults([{"route": "POST /api/v3/order", "kind": "unknown_status"}])
    with pytest.raises(ccxt.RequestTimeout, match="-1007"):
        client.create_order("BTC/USDT", "market", "buy", 0.001,
                            params={"newClientOrderId": "pt-unknown"})
    emulator.set_faults([])
    found = client.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "pt-unknown"})
    assert found["status"] == "closed"
    assert found["filled"] == 0.001


def test_lost_response_leaves_an_order_found_by_client_id(emulator: EmulatorServer,
                                                          client: Any) -> None:
    emulator.set_faults([{"route": "POST /api/v3/order", "kind": "response_lost"}])
    with pytest.raises(ccxt.NetworkError):
        client.create_order("ETH/USDT", "limit", "buy", 0.01, 1000.0,
                            params={"newClientOrderId": "pt-lost"})
    emulator.set_faults([])
    found = client.fetch_order(None, "ETH/USDT", params={"origClientOrderId": "pt-lost"})
    assert found["status"] == "open"
    assert found["amount"] == 0.01
    assert [o["clientOrderId"] for o in client.fetch_open_orders("ETH/USDT")] == ["pt-lost"]


def test_timeout_and_latency(emulator: EmulatorServer) -> None:
    ex = make_emulator_client(emulator.base_url, emulator.api_key, emulator.secret,
                              timeout_ms=300)
    ex.load_markets()
    emulator.set_faults([{"route": "GET /api/v3/ticker/24hr", "kind": "timeout",
                          "latency_ms": 2000}])
    started = time.perf_counter()
    with pytest.raises(ccxt.RequestTimeout):
        ex.fetch_ticker("BTC/USDT")
    assert time.perf_counter() - started < 1.5
    emulator.set_faults([{"route": "GET /api/v3/ticker/24hr", "kind": "latency",
                          "latency_ms": 150}])
    started = time.perf_counter()
    assert ex.fetch_ticker("BTC/USDT")["last"] > 0
    assert time.perf_counter() - started >= 0.15


def test_fault_rates_are_seeded_and_counted(emulator: EmulatorServer, client: Any) -> None:
    def pattern(seed: int) -> list[bool]:
        emulator.set_faults([{"route": "/api/v3/ticker/price", "kind": "rate_limit",
                              "rate": 0.5, "seed": seed}])
        hits = []
        for _ in range(24):
            try:
                client.public_get_ticker_price({"symbol": "BTCUSDT"})
                hits.append(False)
            except ccxt.DDoSProtection:
                hits.append(True)
        return hits

    first, again, other = pattern(11), pattern(11), pattern(12)
    assert first == again
    assert first != other
    assert 3 <= sum(first) <= 21
    status, body = control(emulator, "GET", "/_emulator/faults")
    assert status == 200
    assert body["rules"][0]["fired"] == sum(other)


def test_fault_control_route(emulator: EmulatorServer, client: Any) -> None:
    status, body = control(emulator, "POST", "/_emulator/faults",
                           {"rules": [{"route": "GET /api/v3/ticker/*", "kind": "server_error",
                                       "status": 503}]})
    assert status == 200
    assert body["rules"][0]["status"] == 503
    with pytest.raises(ccxt.ExchangeNotAvailable):
        client.fetch_ticker("BTC/USDT")
    assert client.fetch_balance()["USDT"]["free"] == 10_000  # other routes untouched
    status, body = control(emulator, "POST", "/_emulator/faults",
                           {"rules": [{"kind": "meteor"}]})
    assert status == 400
    assert "meteor" in body["error"]
    assert control(emulator, "DELETE", "/_emulator/faults") == (200, {"rules": []})
    assert client.fetch_ticker("BTC/USDT")["last"] > 0


def test_deposit_route_and_state_hide_secrets(emulator: EmulatorServer, client: Any) -> None:
    status, body = control(emulator, "POST", "/_emulator/deposit",
                           {"asset": "BTC", "amount": "0.5"})
    assert status == 200
    assert body["balances"]["BTC"]["free"] == "0.50000000"
    assert client.fetch_balance()["BTC"]["free"] == 0.5
    status, state = control(emulator, "GET", "/_emulator/state")
    text = str(state)
    assert emulator.secret not in text
    assert emulator.api_key not in text
    assert state["accounts"][0]["balances"]["BTC"]["free"] == "0.50000000"


def test_refuses_non_loopback_binding_and_urls() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(host="0.0.0.0", symbols=["BTC/USDT"])
    with pytest.raises(ValueError, match="loopback"):
        make_emulator_client("http://203.0.113.5:8080", "k", "s")
    remote = make_emulator_client("http://203.0.113.5:8080", "k", "s", allow_remote=True)
    verify_urls(remote, "http://203.0.113.5:8080")


def test_client_urls_all_point_at_the_emulator(emulator: EmulatorServer) -> None:
    ex = make_emulator_client(emulator.base_url, "k", "s")
    for name in ("api", "test", "apiBackup"):
        assert all(u.startswith(emulator.base_url + "/") for u in ex.urls[name].values())
    assert ex.urls["api"]["public"] == emulator.base_url + "/api/v3"
    ex.set_sandbox_mode(False)  # even switching back cannot reach binance.com
    verify_urls(ex, emulator.base_url)
    ex.urls["api"]["fapiPublic"] = "https://fapi.binance.com/fapi/v1"
    with pytest.raises(ValueError, match="fapiPublic"):
        verify_urls(ex, emulator.base_url)
    with pytest.raises(ccxt.BadRequest, match="-1020"):  # futures calls stay on loopback
        make_emulator_client(emulator.base_url, "k", "s").fapipublic_get_ping()


def test_logs_never_contain_secrets(emulator_factory: EmulatorFactory) -> None:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="TRACE")
    try:
        server = emulator_factory()
        ex = make_emulator_client(server.base_url, server.api_key, server.secret)
        ex.load_markets()
        ex.create_order("BTC/USDT", "market", "buy", 0.001, params={"newClientOrderId": "log-1"})
        signature = ex.last_request_body.rsplit("signature=", 1)[1]
        ex.fetch_balance()
        bad = make_emulator_client(server.base_url, server.api_key, "0" * 64)
        with pytest.raises(ccxt.AuthenticationError):
            bad.fetch_balance()
        server.set_faults([{"kind": "response_lost", "route": "GET /api/v3/account"}])
        with pytest.raises(ccxt.NetworkError):
            ex.fetch_balance()
    finally:
        logger.remove(sink)
    text = "\n".join(lines)
    assert "GET /api/v3/account" in text  # request lines are logged (at TRACE) ...
    for secret in (server.secret, server.api_key, signature):  # ... but never credentials
        assert secret not in text
