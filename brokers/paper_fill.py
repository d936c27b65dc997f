"""The dry-run broker: live prices, simulated fills, balances in memory.

:class:`PaperBroker` fills every market order at once with the backtest's own
:class:`~papertrade.rebalance.FillModel` (``fill_price(side, last_price)``, fee
``fee_for(notional)`` in the quote currency), so a dry run and a backtest given the same
reference prices trade the same quantities at the same prices and costs. It needs no keys and
never sends an order anywhere.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from decimal import Decimal

from papertrade.brokers.base import Fill, MarketRules, OrderState, Side
from papertrade.config import BrokerConfig
from papertrade.errors import BrokerError, BrokerRejected, BrokerUnavailable
from papertrade.rebalance import FillModel


class PaperBroker:
    """A :class:`~brokers.base.LiveBroker` that fills in memory.

    ``price_source(symbol)`` gives the reference (last) price; ``fill_model`` the costs. The
    account starts from ``balances`` (asset -> free amount, e.g. restored from the journal of a
    resumed run) or else from ``{quote: cash}``. ``rules`` optionally constrains symbols (lot
    size, minimum amount and notional); by default anything goes. ``clock`` gives epoch ms.

    Orders are remembered by client order id (:meth:`find_order`, :meth:`trades`) for the
    life of the object only; there are never open orders. A buy costing more than the free
    quote, or a sell of more than the free base, is rejected (``insufficient_funds``): no
    balance ever goes negative.
    """

    name = "dry_run"

    def __init__(
        self,
        price_source: Callable[[str], float],
        fill_model: FillModel,
        quote: str,
        *,
        cash: float | None = None,
        balances: Mapping[str, float] | None = None,
        rules: Mapping[str, MarketRules] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        if balances is None and cash is None:
            raise ValueError("PaperBroker needs cash or balances")
        start = dict(balances) if balances is not None else {quote: float(cash or 0.0)}
        if any(not math.isfinite(v) or v < 0 for v in start.values()):
            raise ValueError("PaperBroker balances must be finite and >= 0")
        self.quote = quote
        self.fill_model = fill_model
        self._price_source = price_source
        self._balances: dict[str, float] = {a: float(v) for a, v in start.items()}
        self._balances.setdefault(quote, 0.0)
        self._rules = dict(rules or {})
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._orders: dict[str, OrderState] = {}

    @classmethod
    def from_config(cls, config: BrokerConfig, price_source: Callable[[str], float], *,
                    balances: Mapping[str, float] | None = None) -> PaperBroker:
        """The dry-run broker of ``broker:`` settings (cash, quote, fee_bps, slippage_bps)."""
        return cls(price_source, FillModel.from_bps(config.fee_bps, config.slippage_bps),
                   config.quote, cash=config.cash, balances=balances)

    # ------------------------------------------------------------------ markets and prices

    def rules(self, symbol: str) -> MarketRules:
        """The given rules of ``symbol``, else no lot size and no minimums."""
        _split(symbol)
        return self._rules.get(symbol) or MarketRules(symbol, None, 0.0, 0.0)

    def amount_to_precision(self, symbol: str, qty: float) -> float:
        """``qty`` truncated to the lot size (if any); 0.0 below the minimum amount."""
        rules = self.rules(symbol)
        if not (math.isfinite(qty) and qty > 0):
            return 0.0
        if rules.amount_step:  # decimal arithmetic, as ccxt: 0.3 with step 0.1 stays 0.3
            step = Decimal(repr(rules.amount_step))
            qty = float(Decimal(repr(qty)) // step * step)
        return qty if qty >= rules.min_amount and qty > 0 else 0.0

    def last_prices(self, symbols: list[str]) -> dict[str, float]:
        """:meth:`last_price` of each symbol."""
        return {s: self.last_price(s) for s in symbols}

    def last_price(self, symbol: str) -> float:
        """``price_source(symbol)``; BrokerUnavailable when it fails or gives no usable price
        (its own Broker errors pass through; any other error becomes a one-line
        BrokerUnavailable without the original exception attached)."""
        _split(symbol)
        try:
            price = float(self._price_source(symbol))
        except BrokerError:
            raise
        except Exception as exc:  # e.g. the public client's network errors
            problem = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        else:
            if math.isfinite(price) and price > 0:
                return price
            problem = f"got {price}"
        raise BrokerUnavailable(f"no price for {symbol}: {problem}")

    def balances(self) -> dict[str, tuple[float, float]]:
        """Asset -> (free, 0.0) of every non-zero asset; the quote asset always."""
        return {a: (v, 0.0) for a, v in sorted(self._balances.items())
                if v != 0.0 or a == self.quote}

    # ------------------------------------------------------------------ orders

    def market_order(self, symbol: str, side: Side, qty: float,
                     client_order_id: str) -> OrderState:
        """Fill ``qty`` (truncated to the lot size) now at ``FillModel.fill_price(side, last)``,
        fee ``FillModel.fee_for(notional)`` in the symbol's quote currency."""
        base, quote = _split(symbol)
        if side not in ("buy", "sell"):
            raise BrokerRejected(f"dry run {symbol}: side must be buy or sell, not {side!r}",
                                 kind="invalid_order")
        if client_order_id in self._orders:
            raise BrokerRejected(f"dry run: duplicate client order id {client_order_id}",
                                 kind="invalid_order")
        amount = self.amount_to_precision(symbol, qty)
        if amount <= 0:
            raise BrokerRejected(f"dry run {side} {symbol}: quantity {qty} is below the "
                                 "minimum amount", kind="invalid_order")
        reference = self.last_price(symbol)
        price = self.fill_model.fill_price(side, reference)
        notional = amount * price
        fee = self.fill_model.fee_for(notional)
        minimum = self.rules(symbol).min_notional
        if notional < minimum:
            raise BrokerRejected(f"dry run {side} {symbol}: notional {notional:.8g} is below "
                                 f"the minimum {minimum:g}", kind="invalid_order")
        quote_free, base_free = self._balances.get(quote, 0.0), self._balances.get(base, 0.0)
        if side == "buy" and notional + fee > quote_free:
            raise BrokerRejected(f"dry run buy {amount:g} {symbol}: costs {notional + fee:.8g} "
                                 f"{quote}, {quote_free:.8g} free", kind="insufficient_funds")
        if side == "sell" and amount > base_free:
            raise BrokerRejected(f"dry run sell {amount:g} {symbol}: {base_free:.8g} {base} free",
                                 kind="insufficient_funds")
        if side == "buy":
            self._balances[quote] = quote_free - (notional + fee)
            self._balances[base] = base_free + amount
        else:
            self._balances[base] = base_free - amount
            self._balances[quote] = quote_free + (notional - fee)
        number = len(self._orders) + 1
        fill = Fill(trade_id=f"dry-{client_order_id}", client_order_id=client_order_id,
                    time_ms=self._clock(), symbol=symbol, side=side, qty=amount, price=price,
                    fee=fee, fee_currency=quote)
        state = OrderState(
            client_order_id=client_order_id, exchange_id=f"dry-{number}", symbol=symbol,
            side=side, status="filled", qty=amount, filled=amount, average_price=price,
            fills=(fill,), raw={"reference_price": reference, "price": price, "qty": amount,
                                "fee": fee, "fee_currency": quote, "time_ms": fill.time_ms},
        )
        self._orders[client_order_id] = state
        return state

    def find_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """The order this broker filled under ``client_order_id`` (with its fill), else None."""
        state = self._orders.get(client_order_id)
        return state if state is not None and state.symbol == symbol else None

    def open_orders(self, symbols: list[str]) -> list[OrderState]:
        """Always empty: dry-run orders fill at once."""
        return []

    def cancel(self, symbol: str, client_order_id: str) -> None:
        """Nothing is ever open: BrokerRejected(not_found)."""
        raise BrokerRejected(f"dry run: no open order {client_order_id} on {symbol}",
                             kind="not_found")

    def trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        """Fills on ``symbol`` since ``since_ms`` (this object's orders only), oldest first."""
        return [f for o in self._orders.values() for f in o.fills
                if f.symbol == symbol and (since_ms is None or f.time_ms >= since_ms)]

    def close(self) -> None:
        """Nothing to release."""


def _split(symbol: str) -> tuple[str, str]:
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote:
        raise BrokerRejected(f"dry run: bad symbol {symbol!r} (expected BASE/QUOTE)",
                             kind="bad_symbol")
    return base, quote
