"""The testnet guard does not trust URLs alone: a venue whose ccxt "sandbox" shares a host with
production (okx, myokx, okxus: demo trading is a header on www.okx.com; weex, alpaca, gemini:
production URLs in the sandbox set) is refused in ``testnet`` mode before any socket is opened,
and ``live --check`` says which mechanism is in use.

The same-host case is detected by comparing the hosts of the ccxt class's ``urls['test']`` with
those of its ``urls['api']``, not from a list of names. An allow-list entry naming the exact
header (empty by default) makes the client refuse every request without that header; a loopback
server standing in for the venue proves the header arrives on every request.

Sockets are watched by an audit hook (as in ``test_live_guard``): in this process for the
broker-level tests, in a subprocess for the command line.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import ccxt  # noqa: TID251
import pytest
from test_live_guard import KEYS, guarded, one_line_error

from papertrade.brokers.ccxt_exchange import CcxtBroker
from papertrade.brokers.ccxt_sandbox import (
    describe_sandbox,
    sandbox_client,
    sandbox_exchanges,
    sandbox_of,
)
from papertrade.errors import BrokerRejected
from tests.conftest import FLAGSHIP

SAME_HOST = ["okx", "myokx", "okxus", "weex", "alpaca", "gemini"]
HEADER = ("x-simulated-trading", "1")

_sockets: list[str] = []
_recording = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording and event in ("socket.connect", "socket.getaddrinfo", "socket.sendto"):
        _sockets.append(f"{event} {args[1] if event == 'socket.connect' else args[0]!r}")


sys.addaudithook(_audit)


@pytest.fixture
def sockets() -> Iterator[list[str]]:
    """Every socket connect / name lookup any thread of this process attempts meanwhile."""
    global _recording
    _sockets.clear()
    _recording = True
    try:
        yield _sockets
    finally:
        _recording = False


def test_same_host_sandboxes_are_found_by_comparing_hosts() -> None:
    for exchange_id in SAME_HOST:
        sandbox = sandbox_of(exchange_id)
        assert not sandbox.distinct and sandbox.shared, exchange_id
        assert exchange_id not in sandbox_exchanges()
    assert sandbox_of("okx").shared == ("www.okx.com",)
    assert sandbox_of("okx").header == HEADER  # what ccxt's sandbox mode adds, read off ccxt
    assert sandbox_of("weex").header is None
    for exchange_id in ("binance", "bybit"):
        assert sandbox_of(exchange_id).distinct and exchange_id in sandbox_exchanges()
    assert sandbox_of("binance").hosts == ("testnet.binance.vision", "testnet.binancefuture.com")


@pytest.mark.parametrize("exchange_id", SAME_HOST)
def test_a_same_host_venue_is_refused_before_any_socket(exchange_id: str,
                                                        sockets: list[str]) -> None:
    with pytest.raises(BrokerRejected) as refused:
        CcxtBroker.for_testnet(exchange_id, "k" * 24, "s" * 24, "USDT").balances()
    text = str(refused.value)
    assert refused.value.kind == "not_supported"
    assert f"{exchange_id}'s sandbox shares its production host" in text
    assert "\n" not in text and len(text) <= 300
    assert sockets == []
    usable, line = describe_sandbox(exchange_id)
    assert not usable and line.startswith(f"refused: {exchange_id}'s sandbox shares")


def test_a_same_host_client_built_elsewhere_is_refused_by_the_broker(sockets: list[str]) -> None:
    client = ccxt.okx({"apiKey": "k", "secret": "s", "password": "p"})
    client.set_sandbox_mode(True)  # every URL is a "sandbox URL": the URL check alone passes
    with pytest.raises(BrokerRejected, match="demo trading is a header") as refused:
        CcxtBroker(client, "USDT").balances()
    assert refused.value.kind == "not_supported"
    assert sockets == []


def test_an_allow_list_entry_must_name_the_exact_mechanism(sockets: list[str]) -> None:
    for exchange_id, entry in [("okx", ("x-demo-trading", "1")), ("okx", ("x-simulated-trading",
                                                                          "0")),
                               ("weex", ("x-simulated-trading", "1"))]:
        with pytest.raises(BrokerRejected, match="shares its production host"):
            sandbox_client(exchange_id, "k", "s", header_sandboxes={exchange_id: entry})
    assert sockets == []


class _Venue(BaseHTTPRequestHandler):
    """Stands in for www.okx.com: records each request's path and demo header, answers the
    JSON ccxt's okx parser expects."""

    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path.split("?")[0], self.headers.get("x-simulated-trading")))
        if self.path.startswith("/api/v5/public/time"):
            data: list[Any] = [{"ts": "1700000000000"}]
        elif self.path.startswith("/api/v5/account/balance"):
            data = [{"details": [], "uTime": "1700000000000", "totalEq": "0"}]
        else:
            data = []
        body = json.dumps({"code": "0", "msg": "", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_allow_listed_header_sandbox_sends_the_header_on_every_request(
    sockets: list[str],
) -> None:
    venue = ThreadingHTTPServer(("127.0.0.1", 0), _Venue)
    thread = threading.Thread(target=venue.serve_forever, daemon=True)
    thread.start()
    _Venue.seen = []
    try:
        client = sandbox_client("okx", "k" * 24, "s" * 24, header_sandboxes={"okx": HEADER})
        assert sockets == []
        broker = CcxtBroker(client, "USDT")  # the guard accepts it: the header is enforced
        client.password = "p" * 12
        client.enableRateLimit = False
        # point the client at the stand-in (the broker's own guard would refuse this URL)
        client.urls["api"] = {"rest": f"http://127.0.0.1:{venue.server_port}"}
        assert client.fetch_time() == 1700000000000
        client.fetch_balance()
        client.load_markets()
        assert len(_Venue.seen) >= 3
        assert {header for _, header in _Venue.seen} == {"1"}, _Venue.seen
        assert {path for path, _ in _Venue.seen} >= {"/api/v5/public/time",
                                                     "/api/v5/account/balance"}

        # a request that lost the header is refused before any connection
        del client.headers["x-simulated-trading"]
        sent, connects = len(_Venue.seen), len(sockets)
        with pytest.raises(ccxt.NotSupported, match="lacks the header x-simulated-trading"):
            client.fetch_time()
        assert len(_Venue.seen) == sent and len(sockets) == connects

        # and the broker refuses its URL change before anything is sent
        with pytest.raises(BrokerRejected, match="not a sandbox URL"):
            broker.balances()
        assert len(_Venue.seen) == sent
    finally:
        venue.shutdown()
        venue.server_close()


def test_live_on_okx_is_refused_before_any_request(tmp_path: Path) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--once",
                              "--set", "broker.mode=testnet", "--set", "broker.exchange=okx",
                              env=KEYS)
    line = one_line_error(result)
    assert "okx's sandbox shares its production host www.okx.com" in line
    assert "demo trading is a header (x-simulated-trading: 1)" in line
    assert network == []


def test_check_states_the_mechanism(tmp_path: Path) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--check",
                              "--set", "broker.mode=testnet", "--set", "broker.exchange=okx",
                              env=KEYS)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(x.startswith("FAIL okx testnet: okx's sandbox shares its production host "
                            "www.okx.com; demo trading is a header") for x in lines), lines
    assert not any("okx" in x and x.startswith("ok ") for x in lines)
    assert network == []
