"""What the emulator's matching engine keeps per account: orders, trades and balances."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

EIGHT = Decimal("0.00000001")
ZERO = Decimal(0)
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")


def q8(value: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``value`` rounded to 8 decimals (Binance's balance precision)."""
    return value.quantize(EIGHT, rounding=rounding)


@dataclass
class Trade:
    """One fill, as ``myTrades`` and ``fills`` report it."""

    id: int
    symbol: str
    order_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool


@dataclass
class Order:
    """An order and its execution so far."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    time: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cumm_quote_qty: Decimal = ZERO
    update_time: int = 0
    locked: Decimal = ZERO
    checked_until: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class OrderRequest:
    """A validated ``POST /api/v3/order`` (numbers parsed, enums checked)."""

    symbol: str
    side: str
    type: str
    client_order_id: str
    time_in_force: str = ""
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None


@dataclass
class Account:
    """One API key's balances, orders and trades."""

    api_key: str
    secret: str
    free: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    locked: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    deposits: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    orders: dict[str, list[Order]] = field(default_factory=lambda: defaultdict(list))
    trades: dict[str, list[Trade]] = field(default_factory=lambda: defaultdict(list))
    open_orders: dict[tuple[str, int], Order] = field(default_factory=dict)
    update_time: int = 0

    def by_id(self, symbol: str, order_id: int) -> Order | None:
        orders = self.orders.get(symbol, [])
        lo, hi = 0, len(orders)
        while lo < hi:  # order ids increase along the list
            mid = (lo + hi) // 2
            if orders[mid].order_id < order_id:
                lo = mid + 1
            else:
                hi = mid
        return orders[lo] if lo < len(orders) and orders[lo].order_id == order_id else None

    def by_client_id(self, symbol: str, client_order_id: str) -> Order | None:
        for order in reversed(self.orders.get(symbol, [])):
            if order.client_order_id == client_order_id:
                return order
        return None
