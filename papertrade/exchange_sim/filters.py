"""A replayed symbol's Binance filters (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL),
derived from its prices, and Binance's number text (rules in :mod:`.market`'s docstring)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from papertrade.exchange_sim import errors

MIN_NOTIONAL = Decimal(5)
MAX_PRICE = Decimal(1_000_000)
_EIGHT_PLACES = Decimal("0.00000001")


def fmt(value: Decimal | float) -> str:
    """Binance's number text: fixed point with 8 decimals (``"0.00100000"``)."""
    if isinstance(value, float):
        return f"{value:.8f}"
    return f"{value.quantize(_EIGHT_PLACES, rounding=ROUND_HALF_UP):f}"


@dataclass(frozen=True)
class SymbolFilters:
    """A symbol's PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE and NOTIONAL values."""

    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_price: Decimal = Decimal(0)
    max_price: Decimal = MAX_PRICE
    min_notional: Decimal = MIN_NOTIONAL

    def check_price(self, price: Decimal) -> None:
        """-1013 ``Filter failure: PRICE_FILTER`` unless ``price`` is on the tick and in range."""
        if price < max(self.min_price, self.tick_size) or price > self.max_price:
            raise errors.filter_failure("PRICE_FILTER")
        if price % self.tick_size != 0:
            raise errors.filter_failure("PRICE_FILTER")

    def check_quantity(self, qty: Decimal, market_order: bool) -> None:
        """-1013 ``LOT_SIZE`` (and ``MARKET_LOT_SIZE`` for market orders) failures."""
        if qty < self.min_qty or qty > self.max_qty or qty % self.step_size != 0:
            raise errors.filter_failure("LOT_SIZE")
        if market_order and qty > self.market_max_qty:
            raise errors.filter_failure("MARKET_LOT_SIZE")

    def check_notional(self, notional: Decimal) -> None:
        if notional < self.min_notional:
            raise errors.filter_failure("NOTIONAL")

    def floor_to_step(self, qty: Decimal) -> Decimal:
        return (qty / self.step_size).to_integral_value(rounding=ROUND_DOWN) * self.step_size

    def as_binance(self) -> list[dict[str, object]]:
        """The ``filters`` array of an exchangeInfo symbol."""
        return [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(self.tick_size),
                "maxPrice": fmt(self.max_price),
                "tickSize": fmt(self.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt(self.min_qty),
                "maxQty": fmt(self.max_qty),
                "stepSize": fmt(self.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": fmt(Decimal(0)),
                "maxQty": fmt(self.market_max_qty),
                "stepSize": fmt(Decimal(0)),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": fmt(self.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ]


def _decimals_needed(values: list[float]) -> int:
    for places in range(9):
        scale = 10**places
        scaled = (v * scale for v in values)
        if all(abs(x - round(x)) <= 1e-9 * max(1.0, abs(x)) for x in scaled):
            return places
    return 8


def derive_filters(prices: list[float], closes: list[float]) -> SymbolFilters:
    """Filters for a symbol from its replayed prices (rules in the module docstring)."""
    tick = Decimal(1).scaleb(-max(2, _decimals_needed(prices)))
    median = sorted(closes)[len(closes) // 2]
    exponent = min(8, max(0, math.floor(math.log10(median)) + 1))
    step = Decimal(1).scaleb(-exponent)

    def qty_worth(usdt: float) -> Decimal:
        """9 x 10^k base units, the largest such amount worth at most ``usdt``."""
        return max(Decimal(9).scaleb(math.floor(math.log10(usdt / median / 9))), step)

    return SymbolFilters(
        tick_size=tick,
        step_size=step,
        min_qty=step,
        max_qty=qty_worth(1e9),
        market_max_qty=qty_worth(1e7),
        min_price=tick,
    )
