"""A :class:`~brokers.base.LiveBroker` over a sync ccxt client: an exchange's sandbox
(:meth:`CcxtBroker.for_testnet`) or the local emulator (:meth:`CcxtBroker.for_emulator`).

Mainnet guard (:mod:`~papertrade.brokers.ccxt_sandbox`): a testnet client is built in sandbox
mode and refused unless its sandbox is a host of its own (not a header on a production host)
and every URL in ``urls['api']`` is one of the sandbox URLs its exchange class defines; before
every call the URLs are checked again against those the broker started with, so nothing is
sent to a URL changed later. :func:`check_sandbox` runs the check without keys.

Errors: every ccxt exception is translated in one place (``CcxtBroker._call``) into
BrokerRejected or BrokerUnavailable, with a one-line redacted message (no key, secret,
signature or query string) and no chained ccxt exception. Binance's -1007 "execution status
unknown" (ccxt ``RequestTimeout``) becomes BrokerUnavailable: the order may exist, so the
caller reconciles with ``find_order`` before sending again.

Fills: trade ids are ``"<market id>-<trade id>"`` (``BTCUSDT-17``; Binance numbers trades per
symbol). ``market_order`` returns the fills of the order response, ``find_order`` queries the
found order's fills (myTrades by orderId); ``trades`` reports the same ids (dedupe on them).
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any, cast

import ccxt  # noqa: TID251

from papertrade.brokers.base import Fill, MarketRules, OrderState, OrderStatus, Side
from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.brokers.ccxt_sandbox import (
    check_sandbox,
    enforced_header,
    guard,
    resolved_urls,
    sandbox_client,
    sandbox_mirror,
)
from papertrade.errors import BrokerRejected, BrokerUnavailable

__all__ = ["CcxtBroker", "check_sandbox"]

MAX_MESSAGE = 300
_PAGE = 1000
_STATUS: dict[str, OrderStatus] = {"closed": "filled", "canceled": "canceled",
                                   "rejected": "rejected", "expired": "expired"}
_REJECTIONS: tuple[tuple[Any, str], ...] = (  # subclasses before their bases
    (ccxt.OrderNotFound, "not_found"), (ccxt.InsufficientFunds, "insufficient_funds"),
    (ccxt.BadSymbol, "bad_symbol"), (ccxt.InvalidOrder, "invalid_order"),
    (ccxt.BadRequest, "invalid_order"), (ccxt.NotSupported, "not_supported"),
    (ccxt.AuthenticationError, "auth"))  # with PermissionDenied and AccountSuspended
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"]*)\?[^\s'\"]*")
_CREDENTIAL = re.compile(
    r"(signature|api[-_]?key|secret|x-mbx-apikey|passphrase|password)(['\"]?\s*[=:]\s*['\"]?)"
    r"[^\s&,'\"}]+", re.IGNORECASE)
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{40,}\b")
_TAG = re.compile(r"<[^>]*>")
_HTML = re.compile(r"<(!doctype|html|head|body)\b.*", re.IGNORECASE | re.DOTALL)


# --------------------------------------------------------------------------- the broker


class CcxtBroker:
    """A :class:`~brokers.base.LiveBroker` over a sync ccxt client.

    ``client`` must be in sandbox mode with only sandbox URLs unless ``require_sandbox`` is
    False (the emulator, or a sandbox mirror: their URLs were verified to be loopback); either
    way the URLs the broker starts with are the only ones it will ever call. Use
    :meth:`for_testnet`, :meth:`for_demo` or :meth:`for_emulator`.
    """

    def __init__(self, client: Any, quote: str, *, name: str | None = None,
                 require_sandbox: bool = True) -> None:
        if require_sandbox:
            guard(client)
        self.name = name or f"{client.id}-sandbox"
        self.quote = quote
        self._client = client
        self._allowed = frozenset(url for _, url in resolved_urls(client))
        self._header = enforced_header(client)
        self._secrets = tuple(str(s) for s in (client.apiKey, client.secret) if s)
        self._markets_loaded = False
        # (symbol, exchange order id) -> client order id: Binance numbers orders per symbol
        self._coids: dict[tuple[str, str], str] = {}
        self._status: int | None = None  # HTTP status and headers of the call's last response
        self._headers: dict[str, str] = {}
        client.session.hooks["response"].append(self._on_response)

    @classmethod
    def for_testnet(cls, exchange_id: str, api_key: str, secret: str, quote: str, *,
                    timeout_ms: int | None = None, mirror_url: str | None = None
                    ) -> CcxtBroker:
        """A broker on ``exchange_id``'s sandbox; BrokerRejected (before any request) where the
        exchange has no sandbox, its sandbox shares a production host, or any API URL is not
        one of its sandbox URLs. ``mirror_url`` (loopback only) serves the sandbox's paths
        from a local server (:func:`~papertrade.brokers.ccxt_sandbox.sandbox_mirror`)."""
        client = (sandbox_client(exchange_id, api_key, secret, timeout_ms) if mirror_url is None
                  else sandbox_mirror(exchange_id, api_key, secret, mirror_url, timeout_ms))
        if not api_key or not secret:
            raise BrokerRejected(f"{exchange_id} testnet needs an API key and secret", "auth")
        return cls(client, quote, name=f"{exchange_id}-testnet",
                   require_sandbox=mirror_url is None)

    @classmethod
    def for_demo(cls, exchange_id: str, api_key: str, secret: str, quote: str, *,
                 timeout_ms: int | None = None) -> CcxtBroker:
        """A broker on ``exchange_id``'s demo trading (ccxt ``enable_demo_trading``);
        BrokerRejected (before any request) where ccxt has no demo, it shares a production
        host, or any API URL is not one of the class's demo URLs
        (:mod:`~papertrade.brokers.ccxt_demo`). Every call re-checks the URLs."""
        from papertrade.brokers.ccxt_demo import demo_client

        client = demo_client(exchange_id, api_key, secret, timeout_ms)
        if not api_key or not secret:
            raise BrokerRejected(f"{exchange_id} demo trading needs an API key and secret",
                                 "auth")
        return cls(client, quote, name=f"{exchange_id}-demo", require_sandbox=False)

    @classmethod
    def for_emulator(cls, base_url: str, api_key: str, secret: str, quote: str, *,
                     timeout_ms: int | None = None) -> CcxtBroker:
        """A broker on the local exchange emulator at ``base_url`` (loopback only)."""
        try:
            client = make_emulator_client(base_url, api_key, secret, timeout_ms=timeout_ms)
        except ValueError as error:  # not a loopback URL
            raise BrokerRejected(str(error), kind="other") from None
        return cls(client, quote, name="emulator", require_sandbox=False)

    # ------------------------------------------------------------------ the one error edge

    def _on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self._status = int(response.status_code)
        self._headers = {str(k).lower(): str(v) for k, v in response.headers.items()}

    def _call(self, op: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one ccxt call; every ccxt exception leaves as BrokerRejected/BrokerUnavailable."""
        guard(self._client, self._allowed, self._header)  # a URL changed since: refused
        self._status, self._headers = None, {}
        try:
            return fn(*args)
        except ccxt.BaseError as exc:
            error = self._translate(op, exc)
        raise error  # outside the except block: no ccxt exception in __context__

    def _translate(self, op: str, exc: Exception) -> BrokerRejected | BrokerUnavailable:
        text = self._redact(f"{op}: {type(exc).__name__}: {exc}")
        for family, kind in _REJECTIONS:
            if isinstance(exc, family):
                return BrokerRejected(text, kind=kind)
        server_error = isinstance(exc, ccxt.ExchangeError) and (self._status or 0) >= 500
        if isinstance(exc, ccxt.OperationFailed) or server_error:
            return BrokerUnavailable(text, retry_after=self._retry_after())
        return BrokerRejected(text, kind="other")

    def _redact(self, text: str) -> str:
        text = _HTML.sub("(HTML page)", text)
        text = _URL_QUERY.sub(r"\1?<redacted>", _TAG.sub(" ", text))
        text = _CREDENTIAL.sub(r"\1\2<redacted>", text)
        for secret in self._secrets:
            if len(secret) >= 6:
                text = text.replace(secret, "<redacted>")
        text = " ".join(_LONG_HEX.sub("<redacted>", text).split())
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"

    def _retry_after(self) -> float | None:
        value = self._headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:  # an HTTP date
            with contextlib.suppress(TypeError, ValueError):
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        return None

    # ------------------------------------------------------------------ markets

    def _market(self, symbol: str) -> dict[str, Any]:
        if not self._markets_loaded:
            self._call("load_markets", self._client.load_markets)
            self._markets_loaded = True
        return cast(dict[str, Any], self._call(f"market {symbol}", self._client.market, symbol))

    def rules(self, symbol: str) -> MarketRules:
        """Lot size (``precision.amount``), ``limits.amount.min`` and ``limits.cost.min``."""
        market = self._market(symbol)
        precision, mode = (market.get("precision") or {}).get("amount"), self._client.precisionMode
        limits, step = market.get("limits") or {}, None
        if precision is not None and mode in (ccxt.TICK_SIZE, ccxt.DECIMAL_PLACES):
            step = float(precision) if mode == ccxt.TICK_SIZE else 10.0 ** -int(precision)
        return MarketRules(
            symbol=symbol, amount_step=step,
            min_amount=float((limits.get("amount") or {}).get("min") or 0.0),
            min_notional=float((limits.get("cost") or {}).get("min") or 0.0),
        )

    def amount_to_precision(self, symbol: str, qty: float) -> float:
        """``qty`` truncated to the lot size by ccxt; 0.0 when that is below the minimum."""
        rules = self.rules(symbol)
        if not (math.isfinite(qty) and qty > 0):
            return 0.0
        try:
            value = float(self._call(f"amount_to_precision {symbol}",
                                     self._client.amount_to_precision, symbol, qty))
        except BrokerRejected as error:
            if error.kind == "invalid_order":  # ccxt: less than one step
                return 0.0
            raise
        return value if value >= rules.min_amount and value > 0 else 0.0

    # ------------------------------------------------------------------ account and prices

    def balances(self) -> dict[str, tuple[float, float]]:
        """Asset -> (free, used) of every non-zero asset; the quote asset always."""
        raw = self._call("fetch_balance", self._client.fetch_balance)
        free, used = raw.get("free") or {}, raw.get("used") or {}
        pairs = {a: (float(free.get(a) or 0.0), float(used.get(a) or 0.0))
                 for a in sorted(set(free) | set(used))}
        return {self.quote: (0.0, 0.0)} | {a: p for a, p in pairs.items() if p != (0.0, 0.0)}

    def last_price(self, symbol: str) -> float:
        """The ticker's last price (its close when there is no last)."""
        ticker = self._call(f"fetch_ticker {symbol}", self._client.fetch_ticker, symbol)
        return _ticker_price(symbol, ticker)

    def last_prices(self, symbols: list[str]) -> dict[str, float]:
        """:meth:`last_price` of several symbols in one request (``fetch_tickers``)."""
        if len(symbols) <= 1 or not self._client.has.get("fetchTickers"):
            return {s: self.last_price(s) for s in symbols}
        tickers = self._call("fetch_tickers", self._client.fetch_tickers, list(symbols))
        missing = [s for s in symbols if s not in tickers]
        if missing:
            raise BrokerUnavailable(f"fetch_tickers: no ticker for {', '.join(missing)}")
        return {s: _ticker_price(s, tickers[s]) for s in symbols}

    # ------------------------------------------------------------------ orders

    def market_order(self, symbol: str, side: Side, qty: float,
                     client_order_id: str) -> OrderState:
        """A market order with our client order id; ccxt truncates ``qty`` to the lot size.
        The returned fills are those of the exchange's response (Binance: all of them)."""
        if not (math.isfinite(qty) and qty > 0):
            raise BrokerRejected(f"market {side} {symbol}: quantity must be positive, not {qty}",
                                 kind="invalid_order")
        order = self._call(f"create_order market {side} {qty:g} {symbol} ({client_order_id})",
                           self._client.create_order, symbol, "market", side, qty, None,
                           {"newClientOrderId": client_order_id})
        return self._order_state(order, symbol, client_order_id)

    def find_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """The order with our client order id, with all its fills; None if the exchange never
        saw it."""
        try:
            order = self._call(f"fetch_order {symbol} ({client_order_id})",
                               self._client.fetch_order, None, symbol,
                               {"origClientOrderId": client_order_id})
        except BrokerRejected as error:
            if error.kind == "not_found":
                return None
            raise
        state = self._order_state(order, symbol, client_order_id, with_fills=False)
        if state.filled <= 0 or state.exchange_id is None:
            return state
        trades = self._my_trades(symbol, None, {"orderId": state.exchange_id})
        fills = tuple(self._fill(t, symbol, state.client_order_id, state.side) for t in trades)
        return replace(state, fills=fills)

    def open_orders(self, symbols: list[str]) -> list[OrderState]:
        """Orders still open on ``symbols``, ours or not (without fills)."""
        result = []
        for symbol in symbols:
            orders = self._call(f"fetch_open_orders {symbol}", self._client.fetch_open_orders,
                                symbol)
            result += [self._order_state(o, symbol, None, with_fills=False) for o in orders]
        return result

    def cancel(self, symbol: str, client_order_id: str) -> None:
        """Cancel an open order by client order id (BrokerRejected not_found if unknown)."""
        self._call(f"cancel_order {symbol} ({client_order_id})", self._client.cancel_order,
                   None, symbol, {"origClientOrderId": client_order_id})

    def trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        """Our executions on ``symbol`` since ``since_ms``, oldest first.

        Binance's myTrades carries the order id but no client order id: ids of orders this
        broker created or looked up are mapped from memory, any other is fetched once (by
        order id) and remembered.
        """
        fills = []
        for trade in self._my_trades(symbol, since_ms, {}):
            order_id = trade.get("order")
            coid = self._coid_of(symbol, str(order_id)) if order_id is not None else ""
            fills.append(self._fill(trade, symbol, coid, trade.get("side")))
        return fills

    def close(self) -> None:
        """Close the client's HTTP session."""
        self._client.close()

    # ------------------------------------------------------------------ read-only probes

    def markets(self) -> dict[str, dict[str, Any]]:
        """The venue's markets as ccxt parses its exchange info (``active``, ``limits``...)."""
        markets = self._call("load_markets", self._client.load_markets)
        self._markets_loaded = True
        return dict(markets)

    def server_time_ms(self) -> int:
        """The venue's clock, epoch milliseconds (a public request)."""
        return int(self._call("fetch_time", self._client.fetch_time))

    @property
    def receive_window_ms(self) -> float:
        """How old a signed request may be when the venue receives it (Binance recvWindow)."""
        return float((self._client.options or {}).get("recvWindow", 5000))

    # ------------------------------------------------------------------ parsing

    def _my_trades(self, symbol: str, since_ms: int | None,
                   params: dict[str, Any]) -> list[dict[str, Any]]:
        """fetch_my_trades, oldest first, paged by ``fromId``, filtered to ``since_ms``.
        (Binance serves at most 24 hours from a ``startTime``: keep ``since_ms`` recent.)"""
        since, query, trades = since_ms, dict(params), []
        if since is None:
            query["fromId"] = 0
        while True:
            page = self._call(f"fetch_my_trades {symbol}", self._client.fetch_my_trades,
                              symbol, since, _PAGE, dict(query))
            trades += page
            if len(page) < _PAGE:
                break
            since, query["fromId"] = None, int(page[-1]["id"]) + 1
        return [t for t in trades if since_ms is None or (t.get("timestamp") or 0) >= since_ms]

    def _coid_of(self, symbol: str, order_id: str) -> str:
        if (symbol, order_id) not in self._coids:
            order = self._call(f"fetch_order {symbol} #{order_id}", self._client.fetch_order,
                               order_id, symbol)
            self._coids[symbol, order_id] = str(order.get("clientOrderId") or "")
        return self._coids[symbol, order_id]

    def _order_state(self, order: dict[str, Any], symbol: str, client_order_id: str | None,
                     *, with_fills: bool = True) -> OrderState:
        exchange_id = None if order.get("id") is None else str(order["id"])
        coid = str(order.get("clientOrderId") or client_order_id or "")
        if exchange_id is not None and coid:
            self._coids[symbol, exchange_id] = coid
        side = cast(Side, order.get("side"))
        filled = float(order.get("filled") or 0.0)
        status = _STATUS.get(str(order.get("status")),
                             "partially_filled" if filled > 0 else "open")
        fills: tuple[Fill, ...] = ()
        if with_fills:
            fills = tuple(self._fill(t, symbol, coid, side, order.get("timestamp"))
                          for t in order.get("trades") or [])
        average, info = order.get("average"), order.get("info")
        return OrderState(
            client_order_id=coid, exchange_id=exchange_id, symbol=order.get("symbol") or symbol,
            side=side, status=status, qty=float(order.get("amount") or 0.0), filled=filled,
            average_price=float(average) if average else None, fills=fills,
            raw=dict(info) if isinstance(info, dict) else {},
        )

    def _fill(self, trade: dict[str, Any], symbol: str, coid: str, side: Any,
              default_ms: int | None = None) -> Fill:
        info, fee = trade.get("info") or {}, trade.get("fee") or {}
        market_id = self._market(symbol)["id"]
        when = trade.get("timestamp") or default_ms or int(time.time() * 1000)
        return Fill(
            trade_id=f"{market_id}-{trade['id']}", client_order_id=coid, time_ms=int(when),
            symbol=symbol, side=cast(Side, trade.get("side") or side),
            qty=float(trade["amount"]), price=float(trade["price"]),
            fee=float(info.get("commission", fee.get("cost")) or 0.0),
            fee_currency=str(info.get("commissionAsset") or fee.get("currency") or ""),
        )


def _ticker_price(symbol: str, ticker: dict[str, Any]) -> float:
    """A ticker's last price (its close when there is no last); BrokerUnavailable if none."""
    price = ticker.get("last") or ticker.get("close")
    if not price or not math.isfinite(float(price)) or float(price) <= 0:
        raise BrokerUnavailable(f"fetch_ticker {symbol}: no last price")
    return float(price)
