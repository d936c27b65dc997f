"""A minimal Binance spot REST server on loopback, serving real klines from the bundled CSVs.

Only what ccxt's ``binance`` client needs to download daily candles:

- ``GET /api/v3/exchangeInfo``: the listed symbols (status, assets, precisions, filters);
- ``GET /api/v3/klines``: ``symbol``, ``interval`` (``1d`` only), ``startTime``, ``endTime``,
  ``limit`` (default 500, at most 1000, like Binance), candles opened at or before the server's
  ``now_ms``; the candle containing ``now_ms`` is served *forming* (a partial snapshot: open,
  high, low and close all equal the day's open, tiny volume).

- ``GET /api/v3/ticker/24hr`` and ``/api/v3/ticker/price`` (one ``symbol`` or ``symbols``): the
  last price at ``now_ms``, the open of the day containing it (what a daily replay knows).

``clock`` (epoch-ms callable) makes the server follow another clock (an emulator's) instead of
:meth:`FakeBinance.set_now`. Prices are sent as the CSV's own strings, so a client parsing them
gets exactly the bundled values. Every request is recorded in :attr:`FakeBinance.requests`, and
with its method and headers in :attr:`FakeBinance.log` (any method: POST, PUT and DELETE are
logged, then answered 405). Unknown symbols get Binance's
``{"code": -1121, "msg": "Invalid symbol."}`` with HTTP 400.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

DAY_MS = 86_400_000
BINANCE_NOW = dt.datetime(2025, 6, 15, 10, 30, tzinfo=dt.UTC)  # the tests' default clock
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class Listing:
    """One spot market: Binance id (``BTCUSDT``), assets, and candles from a bundled CSV."""

    base: str
    quote: str
    rows: tuple[tuple[int, str, str, str, str, str], ...]  # open ms, o, h, l, c, v as strings

    @property
    def market_id(self) -> str:
        return f"{self.base}{self.quote}"


def listing_from_csv(path: Path, base: str, quote: str) -> Listing:
    """A listing whose candles are the rows of a bundled ``date,open,...,volume`` CSV."""
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            day = dt.datetime.strptime(record["date"], "%Y-%m-%d").replace(tzinfo=dt.UTC)
            open_ms = int(day.timestamp()) * 1000
            rows.append((open_ms, record["open"], record["high"], record["low"],
                         record["close"], record["volume"]))
    return Listing(base, quote, tuple(rows))


def day_ms(day: dt.date) -> int:
    """Epoch milliseconds of ``day`` 00:00 UTC."""
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()) * 1000


class FakeBinance:
    """The server; use as a context manager. ``base_url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, listings: list[Listing], now: dt.datetime,
                 clock: Callable[[], int] | None = None) -> None:
        self.listings = {item.market_id: item for item in listings}
        self._now_ms = int(now.timestamp() * 1000)
        self.clock = clock
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.log: list[dict[str, Any]] = []  # method, path, params, headers, body of each
        self.served_forming: list[int] = []  # open times of forming candles served
        self.rejected: set[str] = set()  # listed market ids whose klines answer -1121
        self.page_cap = MAX_LIMIT  # at most this many candles a page (some exchanges cap low)
        self.ignores_start = False  # True: serve the oldest candles whatever startTime says
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def now_ms(self) -> int:
        """The server's instant (its ``clock`` when given)."""
        return self.clock() if self.clock is not None else self._now_ms

    @now_ms.setter
    def now_ms(self, value: int) -> None:
        self._now_ms = value

    def set_now(self, now: dt.datetime) -> None:
        """Move the server's clock (candles up to ``now`` exist; the last one is forming)."""
        self.now_ms = int(now.timestamp() * 1000)

    def klines_requests(self) -> list[dict[str, str]]:
        """The query parameters of every ``/api/v3/klines`` request so far."""
        with self._lock:
            return [params for path, params in self.requests if path == "/api/v3/klines"]

    def __enter__(self) -> FakeBinance:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ endpoints

    def exchange_info(self) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms,
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [_symbol_info(item) for item in self.listings.values()],
        }

    def klines(self, params: dict[str, str]) -> tuple[int, Any]:
        item = self.listings.get(params.get("symbol", ""))
        if item is None or item.market_id in self.rejected:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if params.get("interval") != "1d":
            return 400, {"code": -1120, "msg": "Invalid interval."}
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return 400, {"code": -1100, "msg": "Illegal characters found in a parameter."}
        if not 1 <= limit <= MAX_LIMIT:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
        if self.ignores_start:
            start = item.rows[0][0] if item.rows else 0
        limit = min(limit, self.page_cap)
        rows = [r for r in item.rows if r[0] <= self.now_ms
                and (start is None or r[0] >= start) and (end is None or r[0] <= end)]
        rows = rows[:limit] if start is not None else rows[-limit:]
        out = []
        for open_ms, o, h, low, c, v in rows:
            if open_ms + DAY_MS > self.now_ms:  # the forming candle: a partial snapshot
                h = low = c = o
                v = "0.001"
                with self._lock:
                    self.served_forming.append(open_ms)
            out.append([open_ms, o, h, low, c, v, open_ms + DAY_MS - 1, "0", 0, "0", "0", "0"])
        return 200, out

    def ticker(self, params: dict[str, str], full: bool) -> tuple[int, Any]:
        """The last price of one symbol (``symbol``) or several (``symbols``, a JSON list)."""
        if "symbols" in params:
            try:
                ids = [str(i) for i in json.loads(params["symbols"])]
            except ValueError:
                return 400, {"code": -1100, "msg": "Illegal characters found in a parameter."}
        else:
            ids = [params.get("symbol", "")]
        out = []
        for market_id in ids:
            item = self.listings.get(market_id)
            rows = [r for r in item.rows if r[0] <= self.now_ms] if item else []
            if not rows:
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            price = rows[-1][1]  # the open of the day containing now
            body: dict[str, Any] = {"symbol": market_id, "price": price}
            if full:
                body = {"symbol": market_id, "lastPrice": price, "openPrice": price,
                        "highPrice": price, "lowPrice": price, "bidPrice": price,
                        "askPrice": price, "volume": "0", "quoteVolume": "0",
                        "openTime": rows[-1][0], "closeTime": self.now_ms}
            out.append(body)
        return 200, out if "symbols" in params else out[0]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> tuple[Any, dict[str, str]]:
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                with fake._lock:
                    fake.requests.append((url.path, params))
                    fake.log.append({"method": self.command, "path": url.path,
                                     "params": params, "headers": dict(self.headers.items()),
                                     "body": body})
                return url, params

            def _refuse(self) -> None:
                self._record()
                self._send(405, {"code": -1000, "msg": f"{self.command} not served"})

            do_POST = do_PUT = do_DELETE = _refuse

            def do_GET(self) -> None:
                url, params = self._record()
                if url.path in ("/api/v3/ticker/24hr", "/api/v3/ticker/price"):
                    self._send(*fake.ticker(params, full=url.path.endswith("24hr")))
                elif url.path == "/api/v3/exchangeInfo":
                    self._send(200, fake.exchange_info())
                elif url.path == "/api/v3/klines":
                    self._send(*fake.klines(params))
                elif url.path in ("/api/v3/ping", "/api/v3/time"):
                    self._send(200, {"serverTime": fake.now_ms} if url.path.endswith("time")
                               else {})
                else:
                    self._send(404, {"code": -1000, "msg": f"not served by the fake: {url.path}"})

            def _send(self, status: int, body: Any) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _symbol_info(item: Listing) -> dict[str, Any]:
    return {
        "symbol": item.market_id,
        "status": "TRADING",
        "baseAsset": item.base,
        "baseAssetPrecision": 8,
        "quoteAsset": item.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "permissions": ["SPOT"],
        "permissionSets": [["SPOT"]],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.00000001", "maxPrice": "1000000.00000000",
             "tickSize": "0.00000001"},
            {"filterType": "LOT_SIZE", "minQty": "0.00000001", "maxQty": "9000000.00000000",
             "stepSize": "0.00000001"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000",
             "stepSize": "0.00000000"},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False,
             "avgPriceMins": 5},
        ],
    }


# --------------------------------------------------------------------------- test helpers


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def binance_client_factory(base_url: str) -> Callable[[], Any]:
    """``make_client`` for fetch_ccxt: a real ccxt binance client pointed at ``base_url``."""

    def make() -> Any:
        import ccxt  # noqa: TID251 - the tests drive a real ccxt client

        client = ccxt.binance(
            {"enableRateLimit": False, "options": {"fetchMarkets": {"types": ["spot"]}}}
        )
        client.set_sandbox_mode(True)
        base = urlsplit(base_url)
        client.urls["api"] = {
            key: urlunsplit((base.scheme, base.netloc, urlsplit(url).path, "", ""))
            for key, url in client.urls["api"].items()
        }
        assert all(url.startswith(base_url + "/") for url in client.urls["api"].values())
        client.exceptions["exact"].update(client.exceptions["spot"]["exact"])
        return client

    return make
