"""The Binance spot REST namespace (``/api/v3/...``): routing, parameters, authentication.

Signed endpoints check, in this order: ``X-MBX-APIKEY`` (-2014 absent, -2015 unknown), the
``signature`` (-1102 absent; -1022 unless it is the hex HMAC-SHA256, keyed by the account's
secret, of the raw query string and raw body concatenated, signature parameter removed), then
``timestamp``/``recvWindow`` against the real wall clock (-1021). The market answers from the
emulated clock.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import Callable

from papertrade.exchange_sim import errors, payloads
from papertrade.exchange_sim.accounts import Account, OrderRequest
from papertrade.exchange_sim.clock import EmulatedClock, wall_ms
from papertrade.exchange_sim.filters import fmt
from papertrade.exchange_sim.market import ORDER_TYPES, Market, ReplayedSymbol
from papertrade.exchange_sim.matching import MatchingEngine
from papertrade.exchange_sim.params import (
    ApiRequest,
    Params,
    decimal_param,
    int_param,
    limit_param,
    parse_params,
    required_param,
    sign,
    signed_payload,
    time_window,
)

Json = dict[str, object] | list[object]

_CLIENT_ID = re.compile(errors.CLIENT_ID_PATTERN)
_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)
_MAX_RECV_WINDOW = 60_000


def new_client_id() -> str:
    return secrets.token_urlsafe(16)[:22].replace("-", "x").replace("_", "y")


class BinanceApi:
    """Answers ``/api/v3`` requests from a :class:`Market` and a :class:`MatchingEngine`."""

    def __init__(self, market: Market, engine: MatchingEngine, clock: EmulatedClock) -> None:
        self.market = market
        self.engine = engine
        self.clock = clock
        public: dict[tuple[str, str], Callable[[Params], Json]] = {
            ("GET", "/api/v3/ping"): lambda p: {},
            ("GET", "/api/v3/time"): lambda p: {"serverTime": wall_ms()},
            ("GET", "/api/v3/exchangeInfo"): self.exchange_info,
            ("GET", "/api/v3/klines"): self.klines,
            ("GET", "/api/v3/ticker/24hr"): self.ticker_24hr,
            ("GET", "/api/v3/ticker/price"): self.ticker_price,
            ("GET", "/api/v3/ticker/bookTicker"): self.book_ticker,
            ("GET", "/api/v3/depth"): self.depth,
        }
        signed: dict[tuple[str, str], Callable[[Account, Params, int], Json]] = {
            ("GET", "/api/v3/account"): self.account,
            ("POST", "/api/v3/order"): self.new_order,
            ("GET", "/api/v3/order"): self.query_order,
            ("DELETE", "/api/v3/order"): self.cancel_order,
            ("GET", "/api/v3/openOrders"): self.open_orders,
            ("DELETE", "/api/v3/openOrders"): self.cancel_open_orders,
            ("GET", "/api/v3/allOrders"): self.all_orders,
            ("GET", "/api/v3/myTrades"): self.my_trades,
        }
        self.public_routes = public
        self.signed_routes = signed

    def knows(self, method: str, path: str) -> bool:
        return (method, path) in self.public_routes or (method, path) in self.signed_routes

    def handle(self, req: ApiRequest) -> Json:
        """The JSON answer to ``req``; raises :class:`errors.ApiError` for error answers."""
        key = (req.method, req.path)
        params = parse_params(req.query, req.body)
        if key in self.public_routes:
            return self.public_routes[key](params)
        if key not in self.signed_routes:
            raise errors.unsupported(req.path)
        account = self.authenticate(req, params)
        with self.engine.lock:
            now = self.clock.now_ms()
            self.engine.sync(now)
            return self.signed_routes[key](account, params, now)

    def authenticate(self, req: ApiRequest, params: Params) -> Account:
        api_key = req.headers.get("x-mbx-apikey", "")
        if not api_key:
            raise errors.api_key_format()
        account = self.engine.accounts.get(api_key)
        if account is None:
            raise errors.invalid_api_key()
        signature = params.get("signature", "")
        if not signature:
            raise errors.missing("signature")
        expected = sign(account.secret, signed_payload(req.query, req.body))
        if not hmac.compare_digest(expected, signature.lower()):
            raise errors.bad_signature()
        timestamp = int_param(params, "timestamp", required=True)
        recv_window = int_param(params, "recvWindow") or 5000
        if recv_window > _MAX_RECV_WINDOW:
            raise errors.bad_recv_window()
        now = wall_ms()
        if timestamp is not None and timestamp > now + 1000:
            raise errors.timestamp_ahead()
        if timestamp is not None and now - timestamp > recv_window:
            raise errors.timestamp_outside_window()
        return account

    # ------------------------------------------------------------------ public market data

    def _symbols(self, params: Params) -> list[ReplayedSymbol]:
        if params.get("symbol"):
            return [self.market.get(params["symbol"])]
        if params.get("symbols"):
            try:
                ids = json.loads(params["symbols"])
            except ValueError:
                raise errors.invalid_parameter("symbols") from None
            if not isinstance(ids, list):
                raise errors.invalid_parameter("symbols")
            return [self.market.get(str(i)) for i in ids]
        return list(self.market.symbols.values())

    def exchange_info(self, params: Params) -> Json:
        now = self.clock.now_ms()
        return {
            "timezone": "UTC",
            "serverTime": wall_ms(),
            "rateLimits": payloads.RATE_LIMITS,
            "exchangeFilters": [],
            "symbols": [payloads.symbol_info(s, s.is_trading(now)) for s in self._symbols(params)],
        }

    def klines(self, params: Params) -> Json:
        sym = self.market.get(required_param(params, "symbol"))
        interval = required_param(params, "interval")
        if interval != "1d":
            raise errors.invalid_interval()
        limit = limit_param(params, default=500, maximum=1000)
        rows = sym.klines(self.clock.now_ms(), int_param(params, "startTime"),
                          int_param(params, "endTime"), limit)
        return list(rows)

    def _single_or_list(self, params: Params, build: Callable[[ReplayedSymbol], Json]) -> Json:
        items = [build(s) for s in self._symbols(params)]
        return items[0] if params.get("symbol") else list(items)

    def ticker_24hr(self, params: Params) -> Json:
        now = self.clock.now_ms()

        def build(sym: ReplayedSymbol) -> Json:
            stats = sym.rolling_24h(now)
            open_, last = sym.rounded(stats["open"]), sym.rounded(stats["last"])
            volume = stats["volume"]
            change = last - open_
            return {
                "symbol": sym.id,
                "priceChange": fmt(change),
                "priceChangePercent": f"{change / open_ * 100:.3f}" if open_ else "0.000",
                "weightedAvgPrice": fmt(stats["quote_volume"] / volume if volume else 0.0),
                "prevClosePrice": fmt(open_),
                "lastPrice": fmt(last),
                "lastQty": fmt(sym.filters.step_size),
                "bidPrice": fmt(self.market.bid(sym, now)),
                "bidQty": fmt(self.market.level_qty(sym, self.market.bid(sym, now), 0)),
                "askPrice": fmt(self.market.ask(sym, now)),
                "askQty": fmt(self.market.level_qty(sym, self.market.ask(sym, now), 0)),
                "openPrice": fmt(open_),
                "highPrice": fmt(sym.rounded(stats["high"])),
                "lowPrice": fmt(sym.rounded(stats["low"])),
                "volume": fmt(volume),
                "quoteVolume": fmt(stats["quote_volume"]),
                "openTime": now - 86_400_000,
                "closeTime": now,
                "firstId": -1,
                "lastId": -1,
                "count": 0,
            }

        return self._single_or_list(params, build)

    def ticker_price(self, params: Params) -> Json:
        now = self.clock.now_ms()
        return self._single_or_list(
            params, lambda s: {"symbol": s.id, "price": fmt(self.market.mid(s, now))}
        )

    def book_ticker(self, params: Params) -> Json:
        now = self.clock.now_ms()

        def build(sym: ReplayedSymbol) -> Json:
            bid, ask = self.market.bid(sym, now), self.market.ask(sym, now)
            return {
                "symbol": sym.id,
                "bidPrice": fmt(bid),
                "bidQty": fmt(self.market.level_qty(sym, bid, 0)),
                "askPrice": fmt(ask),
                "askQty": fmt(self.market.level_qty(sym, ask, 0)),
            }

        return self._single_or_list(params, build)

    def depth(self, params: Params) -> Json:
        sym = self.market.get(required_param(params, "symbol"))
        limit = limit_param(params, default=100, maximum=5000)
        now = self.clock.now_ms()
        bid, ask, tick = self.market.bid(sym, now), self.market.ask(sym, now), sym.filters.tick_size
        bids = [bid - i * tick for i in range(limit) if bid - i * tick > 0]
        asks = [ask + i * tick for i in range(limit)]
        return {
            "lastUpdateId": now,
            "bids": [[fmt(p), fmt(self.market.level_qty(sym, p, i))] for i, p in enumerate(bids)],
            "asks": [[fmt(p), fmt(self.market.level_qty(sym, p, i))] for i, p in enumerate(asks)],
        }

    # ------------------------------------------------------------------ signed (engine locked)

    def account(self, account: Account, params: Params, now: int) -> Json:
        omit = params.get("omitZeroBalances", "false").lower() == "true"
        return payloads.account_info(account, self.engine.maker_fee, self.engine.taker_fee, omit)

    def new_order(self, account: Account, params: Params, now: int) -> Json:
        symbol = self.market.get(required_param(params, "symbol")).id
        side = required_param(params, "side")
        if side not in ("BUY", "SELL"):
            raise errors.invalid_side()
        order_type = required_param(params, "type")
        if order_type not in ORDER_TYPES:
            raise errors.invalid_order_type()
        client_id = params.get("newClientOrderId") or new_client_id()
        if not _CLIENT_ID.match(client_id):
            raise errors.illegal_characters("newClientOrderId", errors.CLIENT_ID_PATTERN)
        resp_type = params.get("newOrderRespType") or "FULL"
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise errors.invalid_parameter("newOrderRespType")
        req = OrderRequest(symbol=symbol, side=side, type=order_type, client_order_id=client_id)
        if order_type == "MARKET":
            for extra in ("price", "timeInForce"):
                if params.get(extra):
                    raise errors.not_required(extra)
            req.quantity = decimal_param(params, "quantity")
            req.quote_order_qty = decimal_param(params, "quoteOrderQty")
            if req.quantity is None and req.quote_order_qty is None:
                raise errors.missing_either("quantity", "quoteOrderQty")
            if req.quantity is not None and req.quote_order_qty is not None:
                raise errors.not_required("quoteOrderQty")
        else:
            req.quantity = decimal_param(params, "quantity", required=True)
            req.price = decimal_param(params, "price", required=True)
            if order_type == "LIMIT":
                req.time_in_force = required_param(params, "timeInForce")
                if req.time_in_force not in ("GTC", "IOC", "FOK"):
                    raise errors.invalid_time_in_force()
            elif params.get("timeInForce"):
                raise errors.not_required("timeInForce")
        order, trades = self.engine.place(account, req, now)
        return payloads.order_placed(order, trades, resp_type)

    def _find(self, account: Account, params: Params) -> tuple[str, int | None, str | None]:
        symbol = self.market.get(required_param(params, "symbol")).id
        order_id = int_param(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise errors.missing_either("orderId", "origClientOrderId")
        return symbol, order_id, client_id

    def query_order(self, account: Account, params: Params, now: int) -> Json:
        order = self.engine.find(account, *self._find(account, params))
        if order is None:
            raise errors.order_does_not_exist()
        return payloads.order_query(order)

    def cancel_order(self, account: Account, params: Params, now: int) -> Json:
        order = self.engine.find(account, *self._find(account, params))
        if order is None:
            raise errors.unknown_order_cancel()
        self.engine.cancel(account, order, now)
        cancel_id = params.get("newClientOrderId") or new_client_id()
        return payloads.order_canceled(order, cancel_id, now)

    def cancel_open_orders(self, account: Account, params: Params, now: int) -> Json:
        symbol = self.market.get(required_param(params, "symbol")).id
        orders = self.engine.open_orders(account, symbol)
        if not orders:
            raise errors.unknown_order_cancel()
        return [
            payloads.order_canceled(self.engine.cancel(account, o, now), new_client_id(), now)
            for o in orders
        ]

    def open_orders(self, account: Account, params: Params, now: int) -> Json:
        symbol = self.market.get(params["symbol"]).id if params.get("symbol") else None
        return [payloads.order_query(o) for o in self.engine.open_orders(account, symbol)]

    def all_orders(self, account: Account, params: Params, now: int) -> Json:
        symbol = self.market.get(required_param(params, "symbol")).id
        orders = account.orders.get(symbol, [])
        order_id = int_param(params, "orderId")
        if order_id is not None:
            orders = [o for o in orders if o.order_id >= order_id]
        selected = time_window(orders, lambda o: o.time, params, from_start=order_id is not None)
        return [payloads.order_query(o) for o in selected]

    def my_trades(self, account: Account, params: Params, now: int) -> Json:
        symbol = self.market.get(required_param(params, "symbol")).id
        trades = account.trades.get(symbol, [])
        order_id = int_param(params, "orderId")
        from_id = int_param(params, "fromId")
        if order_id is not None:
            trades = [t for t in trades if t.order_id == order_id]
        if from_id is not None:
            trades = [t for t in trades if t.id >= from_id]
        selected = time_window(trades, lambda t: t.time, params, from_start=from_id is not None)
        return [payloads.my_trade(t) for t in selected]
