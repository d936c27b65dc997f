"""Acceptance: the emulator survives a 50-client, 20-second loopback load with 100 slow sockets
held open and the malformed-request set sent throughout; afterwards, per asset,
``free + locked = deposits + fills - fees`` exactly.

The clients are real ccxt ``binance`` clients (``brokers.ccxt_emulator``) over loopback HTTP, each
in its own thread; a stepper moves the emulated clock through the control route (resting
orders fill as it moves); a vandal thread replays the malformed requests of
``emulator_helpers`` (and valid deposits, which the invariant counts) until the load ends.

The duration is ``PAPERTRADE_LOAD_SECONDS`` (default 20, the acceptance run; the test runs in the
default suite, marked ``slow``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import ccxt  # noqa: TID251
import pytest
from emulator_helpers import (
    CONTROL_CASES,
    HTTP_CASES,
    EmulatorFactory,
    assert_balances_consistent,
    control,
    post_json,
    raw_http,
)

from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.exchange_sim.server import EmulatorServer

DURATION = float(os.environ.get("PAPERTRADE_LOAD_SECONDS", "20"))
CLIENTS = 50
SLOW_SOCKETS = 100
AMOUNTS = {"BTC/USDT": 0.0002, "ETH/USDT": 0.005}
DEPOSIT = Decimal(1_000_000)
EXPECTED_ERRORS = (ccxt.InsufficientFunds, ccxt.OrderNotFound)


def _slow_sockets(server: EmulatorServer, count: int) -> list[socket.socket]:
    """Connections that never finish their request: half stop inside the headers, half inside
    a body (a deposit that must never happen)."""
    held = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        if i % 2:
            sock.sendall(b"GET /api/v3/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        else:
            sock.sendall(b"POST /_emulator/deposit HTTP/1.1\r\nContent-Length: 1000\r\n\r\n"
                         b'{"asset": "USDT", "amount": "1000000", ')
        held.append(sock)
    return held


class Client(threading.Thread):
    """One ccxt client trading until the deadline; unexpected errors are kept, not raised."""

    def __init__(self, index: int, exchange: Any, deadline: float) -> None:
        super().__init__(name=f"load-client-{index}", daemon=True)
        self.index, self.exchange, self.deadline = index, exchange, deadline
        self.ops: Counter[str] = Counter()
        self.unexpected: list[str] = []

    def call(self, op: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
        except EXPECTED_ERRORS as error:
            self.ops[f"{op}:{type(error).__name__}"] += 1
            return None
        except Exception as error:
            self.unexpected.append(f"{op}: {type(error).__name__}: {str(error)[:200]}")
            return None
        self.ops[op] += 1
        return result

    def run(self) -> None:
        resting: list[tuple[str, str]] = []
        i = 0
        while time.monotonic() < self.deadline and len(self.unexpected) < 5:
            symbol = list(AMOUNTS)[(i + self.index) % len(AMOUNTS)]
            amount, i = AMOUNTS[symbol], i + 1
            ticker = self.call("ticker", self.exchange.fetch_ticker, symbol)
            if ticker is None:
                continue
            price = float(self.exchange.price_to_precision(symbol, ticker["ask"] * 0.995))
            order = self.call("limit", self.exchange.create_order, symbol, "limit", "buy",
                              amount, price, {"newClientOrderId": f"c{self.index}-{i}-l"})
            if order is not None:
                resting.append((symbol, order["id"]))
            self.call("market", self.exchange.create_order, symbol, "market",
                      "sell" if i % 2 else "buy", amount, None,
                      {"newClientOrderId": f"c{self.index}-{i}-m"})
            if len(resting) > 2:
                old_symbol, old_id = resting.pop(0)
                self.call("cancel", self.exchange.cancel_order, old_id, old_symbol)
            if i % 5 == 0:
                self.call("balance", self.exchange.fetch_balance)
                self.call("open_orders", self.exchange.fetch_open_orders, symbol)


def _vandal(server: EmulatorServer, deadline: float, deposits: Counter[str],
            wrong: list[str], sent: Counter[str]) -> None:
    """Malformed requests, and a valid deposit of 1 USDT, in rounds until the deadline."""
    cases = [(n, r, 400) for n, r in CONTROL_CASES] + HTTP_CASES
    valid = post_json("/_emulator/deposit", '{"asset": "USDT", "amount": "1"}')
    while time.monotonic() < deadline:
        for name, request, expected in [*cases, ("valid deposit", valid, 200)]:
            try:
                status, answer = raw_http(server, request, timeout=30)
            except (OSError, ValueError) as error:  # no answer: the failure this test is about
                wrong.append(f"{name}: {type(error).__name__}: {str(error)[:200]}")
                continue
            sent["valid" if expected == 200 else "malformed"] += 1
            if status != expected:
                wrong.append(f"{name}: {status} {str(answer)[:200]}")
            elif expected == 200:
                deposits["USDT"] += 1


def _stepper(server: EmulatorServer, deadline: float, failures: list[str]) -> None:
    while time.monotonic() < deadline:
        status, answer = control(server, "POST", "/_emulator/clock", {"advance_seconds": 3600})
        if status != 200:
            failures.append(f"clock: {status} {answer}")
        time.sleep(0.1)


def _all_trades(exchange: Any, symbol: str) -> list[dict[str, Any]]:
    trades: list[dict[str, Any]] = []
    while True:
        page = exchange.fetch_my_trades(symbol, params={"fromId": len(trades) + 1,
                                                        "limit": 1000})
        trades += page
        if len(page) < 1000:
            return trades


@pytest.mark.slow
def test_emulator_survives_load_slow_sockets_and_malformed_requests(
    emulator_factory: EmulatorFactory,
) -> None:
    server = emulator_factory(balances={"USDT": str(DEPOSIT)})
    held = _slow_sockets(server, SLOW_SOCKETS)
    try:
        exchanges = []
        for _ in range(CLIENTS):
            exchange = make_emulator_client(server.base_url, server.api_key, server.secret,
                                            timeout_ms=60_000)
            exchange.load_markets()
            exchanges.append(exchange)
        deadline = time.monotonic() + DURATION
        clients = [Client(i, ex, deadline) for i, ex in enumerate(exchanges)]
        deposits: Counter[str] = Counter({"USDT": int(DEPOSIT)})
        wrong: list[str] = []
        sent: Counter[str] = Counter()
        helpers = [threading.Thread(target=_vandal, args=(server, deadline, deposits, wrong, sent),
                                    daemon=True),
                   threading.Thread(target=_stepper, args=(server, deadline, wrong), daemon=True)]
        started = time.monotonic()
        for thread in [*clients, *helpers]:
            thread.start()
        time.sleep(DURATION / 2)
        open_mid_load = server.open_connections()
        for thread in [*clients, *helpers]:
            thread.join(timeout=DURATION + 60)
        elapsed = time.monotonic() - started
        assert not [t.name for t in [*clients, *helpers] if t.is_alive()], "a thread hung"

        # the slow sockets were held the whole time and still are; the server still answers
        assert open_mid_load >= SLOW_SOCKETS + CLIENTS // 2
        assert server.open_connections() >= SLOW_SOCKETS
        begin = time.monotonic()
        assert control(server, "GET", "/_emulator/clock")[0] == 200
        assert time.monotonic() - begin < 2

        unexpected = [e for c in clients for e in c.unexpected]
        assert unexpected == [], unexpected[:10]
        assert wrong == [], wrong[:10]
        ops: Counter[str] = sum((c.ops for c in clients), Counter())
        assert ops["limit"] + ops["market"] >= CLIENTS * 2, ops
        assert sent["malformed"] >= len(CONTROL_CASES) + len(HTTP_CASES), sent
        assert elapsed < DURATION + 60

        checker = exchanges[0]
        trades = [t for symbol in AMOUNTS for t in _all_trades(checker, symbol)]
        assert trades, "no fills: the invariant below would be vacuous"
        assert_balances_consistent(server, trades,
                                   {a: Decimal(v) for a, v in deposits.items()})
        print(f"\nload: {elapsed:.1f} s, {CLIENTS} clients, {dict(ops)}, "
              f"{len(trades)} trades, malformed sent {dict(sent)}")
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
