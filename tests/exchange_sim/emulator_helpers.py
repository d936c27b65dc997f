"""Helpers shared by the exchange-emulator tests (imported by name; no package)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from papertrade.exchange_sim.server import EmulatorServer
from papertrade.exchange_sim.transport import MAX_BODY

EmulatorFactory = Callable[..., EmulatorServer]


def raw_http(server: EmulatorServer, request: bytes, timeout: float = 5.0) -> tuple[int, Any]:
    """Send ``request`` as raw bytes on a new connection; (status, decoded JSON body) of the
    answer. TimeoutError when the server answers nothing within ``timeout`` seconds, and
    ValueError when it closes the connection without an answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ValueError(f"connection closed without an answer ({data!r})")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines[1:])
        length = int(fields["Content-Length"])
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ValueError("connection closed mid-answer")
            body += chunk
    return int(lines[0].split()[1]), json.loads(body[:length])


def post_json(path: str, text: str, extra_headers: str = "") -> bytes:
    """A raw POST of the JSON ``text`` (sent as is: NaN, Infinity... included)."""
    body = text.encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra_headers}\r\n").encode() + body


def control(server: EmulatorServer, method: str, path: str,
            payload: object | None = None) -> tuple[int, Any]:
    """Call a ``/_emulator`` control route over HTTP; (status, decoded JSON)."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(server.base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def assert_balances_consistent(server: EmulatorServer, trades: list[dict[str, Any]],
                               deposits: dict[str, Decimal]) -> None:
    """free + locked == deposits + fills - fees, per asset, from ccxt's ``fetch_my_trades``."""
    expected = {asset: Decimal(amount) for asset, amount in deposits.items()}
    for trade in trades:
        info = trade["info"]
        base = info["symbol"][: -len("USDT")]
        qty, quote = Decimal(info["qty"]), Decimal(info["quoteQty"])
        sign = 1 if info["isBuyer"] else -1
        expected[base] = expected.get(base, Decimal(0)) + sign * qty
        expected["USDT"] = expected.get("USDT", Decimal(0)) - sign * quote
        fee_asset = info["commissionAsset"]
        expected[fee_asset] = expected.get(fee_asset, Decimal(0)) - Decimal(info["commission"])
    actual = {asset: free + locked for asset, (free, locked) in server.balances().items()}
    for asset in set(expected) | set(actual):
        assert actual.get(asset, Decimal(0)) == expected.get(asset, Decimal(0)), asset


# ---------------------------------------------------------------- malformed requests

LONG = "x" * 100_000

# (id, raw request): each must get a 400 JSON answer and change nothing
CONTROL_CASES: list[tuple[str, bytes]] = [
    *[(f"deposit-{name}", post_json("/_emulator/deposit", f'{{"asset": "USDT", "amount": {v}}}'))
      for name, v in [("nan", "NaN"), ("inf", "Infinity"), ("-inf", "-Infinity"),
                      ("1e30", "1e30"), ("null", "null"), ("true", "true"), ("list", "[1]"),
                      ("text", '"abc"'), ("nan-text", '"NaN"'), ("1e30-text", '"1e30"'),
                      ("9-decimals", '"0.000000001"'), ("huge-text", f'"{"9" * 50_000}"')]],
    ("deposit-long-asset", post_json("/_emulator/deposit",
                                     json.dumps({"asset": LONG, "amount": "1"}))),
    ("deposit-unknown-key", post_json("/_emulator/deposit",
                                      '{"asset": "USDT", "amount": "1", "api_key": "nope"}')),
    ("deposit-overdraw", post_json("/_emulator/deposit", '{"asset": "USDT", "amount": "-1e7"}')),
    *[(f"advance-{name}", post_json("/_emulator/clock", f'{{"advance_seconds": {v}}}'))
      for name, v in [("inf", "Infinity"), ("1e308", "1e308"), ("1e13", "1e13"), ("nan", "NaN"),
                      ("negative", "-1"), ("null", "null"), ("text", '"abc"'),
                      ("1e13-text", '"1e13"'), ("true", "true")]],
    *[(f"clock-to-{name}", post_json("/_emulator/clock", f'{{"to": {v}}}'))
      for name, v in [("1e30", "1e30"), ("inf", "Infinity"), ("year-9999", '"9999-12-31"'),
                      ("negative", "-5"), ("past", '"2023-01-01"'), ("long", f'"{LONG}"'),
                      ("null", "null")]],
    ("fault-latency-1e20", post_json("/_emulator/faults",
                                     '{"rules": [{"kind": "latency", "latency_ms": 1e20}]}')),
    ("fault-seed-inf", post_json("/_emulator/faults",
                                 '{"rules": [{"kind": "latency", "seed": Infinity}]}')),
    ("fault-long-kind", post_json("/_emulator/faults", json.dumps({"rules": [{"kind": LONG}]}))),
    ("fault-long-field", post_json("/_emulator/faults",
                                   json.dumps({"rules": [{"kind": "latency", LONG: 1}]}))),
    ("deep-json", post_json("/_emulator/deposit", "[" * 200_000)),
    ("not-json", post_json("/_emulator/clock", LONG)),
]


def _head(content_length: str, path: str = "/_emulator/deposit") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {content_length}\r\n\r\n").encode()


# (id, raw request, status): refused before routing, the body left unread
HTTP_CASES: list[tuple[str, bytes, int]] = [
    ("length-abc", _head("abc"), 400),
    ("length--1", _head("-1"), 400),
    ("length-1e11", _head("1e11"), 400),
    ("length-3e9", _head("3000000000"), 413),
    ("length-3e9-binance", _head("3000000000", "/api/v3/order"), 413),
    ("length-over-limit", _head(str(MAX_BODY + 1)), 413),
    ("length-conflicting",
     b"POST /api/v3/order HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ("chunked",
     b"POST /_emulator/deposit HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    ("body-over-limit-sent", _head(str(MAX_BODY + 100_000)) + b"a" * (MAX_BODY + 100_000), 413),
]
