"""Load test of the exchange emulator through the real ccxt client, from several threads.

Each worker thread has its own ``ccxt.binance`` (via ``brokers.ccxt_emulator``) on one shared
account and loops: a ticker, a limit buy just under the ask, a lookup by client order id, the
cancel of its limit order from three iterations before (some fill meanwhile as the clock moves),
and now and then a market buy, a balance and an open-orders query. A stepper thread advances
the emulated clock one hour every 50 ms. With ``--faults`` the emulator also loses responses,
answers "unknown status", 429 and 502 at small rates, and the workers reconcile by client
order id.

Then it verifies, through ccxt: every client order id sent exists exactly once on the exchange
(nothing lost, nothing duplicated), every order's executed quantity equals its trades, the
locked balances equal what the open orders hold, and per asset
``free + locked = deposits + fills - fees`` exactly. It reports requests per second (the
server's own count of signed requests over the load phase) and client-side latencies.

    python bench/exchange_load.py [--threads 4] [--requests 2400] [--faults] [--in-process]

Exit code 0 when every check holds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal
from typing import Any

import ccxt  # noqa: TID251

from papertrade.brokers.ccxt_emulator import make_emulator_client

SYMBOLS = {"BTC/USDT": 0.0002, "ETH/USDT": 0.005}
DEPOSIT = Decimal(1_000_000)
SIGNED = ("/api/v3/order", "/api/v3/openOrders", "/api/v3/allOrders", "/api/v3/myTrades",
          "/api/v3/account")
FAULTS = [
    {"route": "POST /api/v3/order", "kind": "response_lost", "rate": 0.02, "seed": 1},
    {"route": "POST /api/v3/order", "kind": "unknown_status", "rate": 0.02, "seed": 2},
    {"route": "DELETE /api/v3/order", "kind": "response_lost", "rate": 0.02, "seed": 3},
    {"route": "GET /api/v3/*", "kind": "rate_limit", "rate": 0.01, "seed": 4},
    {"route": "*", "kind": "server_error", "rate": 0.01, "seed": 5},
]
TRANSIENT = (ccxt.NetworkError, ccxt.DDoSProtection)


@dataclass
class Worker:
    """One thread's client and bookkeeping."""

    index: int
    client: Any
    sent_ids: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    calls: int = 0

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        self.calls += 1
        try:
            return fn(*args, **kwargs)
        except ccxt.BaseError as error:
            self.outcomes[type(error).__name__] += 1
            raise
        finally:
            self.latencies.append(time.perf_counter() - started)

    def lookup(self, symbol: str, client_id: str) -> Any:
        """The order carrying ``client_id``, retrying transient faults; None if not placed."""
        while True:
            try:
                return self.call(self.client.fetch_order, None, symbol,
                                 params={"origClientOrderId": client_id})
            except ccxt.OrderNotFound:
                return None
            except TRANSIENT:
                time.sleep(0.005)

    def place(self, symbol: str, kind: str, amount: float, price: float | None,
              client_id: str) -> Any:
        """Create an order exactly once: after a transient fault, look it up before resending."""
        self.sent_ids.append(client_id)
        while True:
            try:
                return self.call(self.client.create_order, symbol, kind, "buy", amount, price,
                                 params={"newClientOrderId": client_id})
            except ccxt.InsufficientFunds:
                self.sent_ids.remove(client_id)
                return None
            except TRANSIENT:
                found = self.lookup(symbol, client_id)
                if found is not None:
                    return found

    def cancel(self, symbol: str, order: dict[str, Any], client_id: str) -> None:
        while True:
            try:
                self.call(self.client.cancel_order, order["id"], symbol)
                return
            except ccxt.OrderNotFound:
                return  # filled meanwhile, or a lost answer already canceled it
            except TRANSIENT:
                found = self.lookup(symbol, client_id)
                if found is not None and found["status"] != "open":
                    return

    def run(self, iterations: int, start: threading.Barrier) -> None:
        start.wait()
        resting: list[tuple[str, dict[str, Any], str]] = []
        for i in range(iterations):
            symbol = list(SYMBOLS)[(i + self.index) % len(SYMBOLS)]
            amount = SYMBOLS[symbol]
            try:
                ask = self.call(self.client.fetch_ticker, symbol)["ask"]
            except TRANSIENT:
                continue
            price = float(self.client.price_to_precision(symbol, ask * 0.999))
            client_id = f"w{self.index}-{i}-limit"
            order = self.place(symbol, "limit", amount, price, client_id)
            if order is None:
                continue
            self.lookup(symbol, client_id)
            resting.append((symbol, order, client_id))
            if len(resting) > 3:  # orders live a few iterations: some fill as the clock moves
                self.cancel(*resting.pop(0))
            if i % 3 == 0:
                self.place(symbol, "market", amount, None, f"w{self.index}-{i}-market")
                with contextlib.suppress(*TRANSIENT):
                    self.call(self.client.fetch_balance)
            if i % 5 == 0:
                with contextlib.suppress(*TRANSIENT):
                    self.call(self.client.fetch_open_orders, symbol)
        for pending in resting:
            self.cancel(*pending)


def control(base_url: str, method: str, path: str, payload: object | None = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def signed_requests(base_url: str) -> int:
    counts = control(base_url, "GET", "/_emulator/state")["requests"]
    return sum(n for route, n in counts.items() if route.split(" ", 1)[1] in SIGNED)


def step_clock(base_url: str, stop: threading.Event) -> None:
    while not stop.wait(0.05):
        control(base_url, "POST", "/_emulator/clock", {"advance_seconds": 3600})


def fetch_all(fetch: Callable[[str, dict[str, Any]], list[dict[str, Any]]], symbol: str,
              cursor: str) -> list[dict[str, Any]]:
    """Page through allOrders/myTrades by id (``orderId``/``fromId``), 1000 at a time."""
    rows: list[dict[str, Any]] = []
    next_id = 1
    while True:
        page = fetch(symbol, {cursor: next_id, "limit": 1000})
        rows.extend(page)
        if len(page) < 1000:
            return rows
        next_id = int(page[-1]["id"]) + 1


def verify(client: Any, sent: list[str]) -> list[str]:
    """Every invariant the bench promises; returns the failures (empty: all good)."""
    failures: list[str] = []
    client.options["fetchOpenOrders"]["warnWithoutSymbol"] = False
    orders, trades = [], []
    for symbol in SYMBOLS:
        orders += fetch_all(lambda s, p: client.fetch_orders(s, params=p), symbol, "orderId")
        trades += fetch_all(lambda s, p: client.fetch_my_trades(s, params=p), symbol, "fromId")
    on_exchange = Counter(o["clientOrderId"] for o in orders)
    duplicated = sorted(cid for cid, n in on_exchange.items() if n > 1)
    lost = sorted(set(sent) - set(on_exchange))
    unexpected = sorted(set(on_exchange) - set(sent))
    if duplicated or lost or unexpected or len(sent) != len(set(sent)):
        failures.append(f"orders: {len(lost)} lost, {len(duplicated)} duplicated, "
                        f"{len(unexpected)} unexpected")
    executed: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for trade in trades:
        executed[(trade["symbol"], trade["order"])] += Decimal(trade["info"]["qty"])
    for order in orders:
        if Decimal(order["info"]["executedQty"]) != executed[(order["symbol"], order["id"])]:
            failures.append(f"order {order['id']}: executedQty differs from its trades")

    expected: defaultdict[str, Decimal] = defaultdict(Decimal, {"USDT": DEPOSIT})
    for trade in trades:
        info = trade["info"]
        base = info["symbol"].removesuffix("USDT")
        sign = 1 if info["isBuyer"] else -1
        expected[base] += sign * Decimal(info["qty"])
        expected["USDT"] -= sign * Decimal(info["quoteQty"])
        expected[info["commissionAsset"]] -= Decimal(info["commission"])
    balances = client.fetch_balance()["info"]["balances"]
    actual = {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in balances}
    for asset in set(expected) | set(actual):
        if actual.get(asset, Decimal(0)) != expected.get(asset, Decimal(0)):
            failures.append(f"{asset}: free + locked = {actual.get(asset)} but deposits + fills "
                            f"- fees = {expected.get(asset)}")
    locked = {b["asset"]: Decimal(b["locked"]) for b in balances}
    held = sum((Decimal(o["info"]["origQty"]) * Decimal(o["info"]["price"])).quantize(
        Decimal("0.00000001"), rounding=ROUND_UP) for o in client.fetch_open_orders())
    if locked.get("USDT", Decimal(0)) != held:
        failures.append(f"USDT locked {locked.get('USDT')} but open orders hold {held}")
    makers = sum(1 for t in trades if t["takerOrMaker"] == "maker")
    print(f"verified: {len(orders)} orders ({sum(on_exchange.values())} on the exchange, "
          f"{len(sent)} sent), {len(trades)} trades ({makers} by resting limit orders), "
          f"balances of {len(actual)} assets")
    return failures


def start_server(in_process: bool) -> tuple[str, str, str, Callable[[], None]]:
    options = {"symbols": list(SYMBOLS), "start": "2024-01-01", "balances": {"USDT": DEPOSIT}}
    if in_process:
        from papertrade.exchange_sim.server import EmulatorServer

        server = EmulatorServer(**options)  # type: ignore[arg-type]
        return server.start(), server.api_key, server.secret, server.stop
    command = [sys.executable, "-m", "papertrade.cli", "exchange", "serve", "--json",
               "--symbols", ",".join(SYMBOLS), "--start", "2024-01-01",
               "--balance", f"USDT={DEPOSIT}"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    banner = json.loads(proc.stdout.readline())

    def stop() -> None:
        proc.terminate()
        proc.wait(timeout=20)

    return banner["base_url"], banner["api_key"], banner["secret"], stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2400,
                        help="approximate number of signed requests to send")
    parser.add_argument("--faults", action="store_true", help="inject faults at small rates")
    parser.add_argument("--in-process", action="store_true",
                        help="run the emulator in this process (shares the GIL with clients)")
    args = parser.parse_args()

    base_url, api_key, secret, stop_server = start_server(args.in_process)
    try:
        if args.faults:
            control(base_url, "POST", "/_emulator/faults", {"rules": FAULTS})
        workers = []
        for index in range(args.threads):
            client = make_emulator_client(base_url, api_key, secret)
            client.load_markets()
            workers.append(Worker(index, client))
        iterations = max(1, round(args.requests / 3.7 / args.threads))
        barrier = threading.Barrier(args.threads + 1)
        threads = [threading.Thread(target=w.run, args=(iterations, barrier)) for w in workers]
        stop_stepper = threading.Event()
        stepper = threading.Thread(target=step_clock, args=(base_url, stop_stepper))
        for thread in threads:
            thread.start()
        signed_before = signed_requests(base_url)
        barrier.wait()
        started = time.perf_counter()
        stepper.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        stop_stepper.set()
        stepper.join()
        signed = signed_requests(base_url) - signed_before
        control(base_url, "DELETE", "/_emulator/faults")

        latencies = sorted(x for w in workers for x in w.latencies)
        outcomes: Counter[str] = sum((w.outcomes for w in workers), Counter())
        print(f"threads: {args.threads}, faults: {'on' if args.faults else 'off'}, "
              f"emulator: {'in-process' if args.in_process else 'separate process'}")
        print(f"signed requests: {signed} in {elapsed:.2f} s = {signed / elapsed:.0f} req/s "
              f"(client calls incl. public tickers: {sum(w.calls for w in workers)})")
        print(f"latency ms: p50 {statistics.median(latencies) * 1000:.1f}, "
              f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f}, "
              f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f}, "
              f"max {latencies[-1] * 1000:.1f}")
        print(f"errors seen by clients: {dict(outcomes) or 'none'}")
        failures = verify(workers[0].client, [cid for w in workers for cid in w.sent_ids])
    finally:
        stop_server()
    if signed < 2000:
        failures.append(f"only {signed} signed requests (< 2000)")
    for failure in failures:
        print("FAIL:", failure)
    print("OK: no order lost or duplicated, balances consistent" if not failures else "FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
