"""The broker side of papertrade: what brokers report, and the live broker interface.

The backtest broker (:mod:`brokers.backtrader_sim`) drives its own event loop and writes to
the journal as it goes. Live brokers (:class:`LiveBroker`: ccxt testnet, the local emulator
through ccxt, the dry-run simulator) are driven one decision at a time by the live loop. Either
way the journal is the record, so every review tool treats every mode alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass
class ExecutionReport:
    """What a backtest broker ends with (rejections and every other detail: the journal)."""

    final_cash: float = 0.0
    final_value: float = 0.0


# --------------------------------------------------------------------------- live brokers

Side = Literal["buy", "sell"]
OrderStatus = Literal["open", "partially_filled", "filled", "canceled", "rejected", "expired"]


@dataclass(frozen=True)
class MarketRules:
    """An exchange's constraints on one market, in base/quote units."""

    symbol: str
    amount_step: float | None  # lot size; None: any amount
    min_amount: float
    min_notional: float


@dataclass(frozen=True)
class Fill:
    """One execution as the exchange reported it."""

    trade_id: str
    client_order_id: str
    time_ms: int
    symbol: str
    side: Side
    qty: float
    price: float
    fee: float
    fee_currency: str


@dataclass(frozen=True)
class OrderState:
    """An order as the exchange knows it; ``raw`` is its (secret-free) response payload."""

    client_order_id: str
    exchange_id: str | None
    symbol: str
    side: Side
    status: OrderStatus
    qty: float
    filled: float
    average_price: float | None
    fills: tuple[Fill, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


class LiveBroker(Protocol):
    """What the live loop needs from an exchange (or from the dry-run simulator).

    Implementations translate their library's errors into exactly two families:
    :class:`~papertrade.errors.BrokerRejected` (deterministic: never retried) and
    :class:`~papertrade.errors.BrokerUnavailable` (transient: the caller retries with backoff).
    Nothing above this interface sees ccxt types.
    """

    name: str

    def rules(self, symbol: str) -> MarketRules:
        """Lot size, minimum amount and minimum notional of ``symbol``."""

    def amount_to_precision(self, symbol: str, qty: float) -> float:
        """``qty`` truncated to the market's lot size (never rounded up)."""

    def balances(self) -> dict[str, tuple[float, float]]:
        """Asset -> (free, locked)."""

    def last_price(self, symbol: str) -> float:
        """The price a market order would be referenced to now."""

    def last_prices(self, symbols: list[str]) -> dict[str, float]:
        """:meth:`last_price` of several symbols (in one request where the venue can)."""

    def market_order(self, symbol: str, side: Side, qty: float,
                     client_order_id: str) -> OrderState:
        """Send a market order carrying our own client order id."""

    def find_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """Look an order up by our client order id; None if the exchange never saw it."""

    def open_orders(self, symbols: list[str]) -> list[OrderState]:
        """Orders still open on ``symbols`` (ours or not)."""

    def cancel(self, symbol: str, client_order_id: str) -> None:
        """Cancel an open order by client order id."""

    def trades(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        """Our executions on ``symbol`` since ``since_ms``."""

    def close(self) -> None:
        """Release connections."""
