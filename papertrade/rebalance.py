"""The pure arithmetic of rebalancing, used by the trading kernel (:mod:`papertrade.trader`).

:func:`current_weights`, :func:`should_send` (the rebalance policy), :func:`plan_orders`
(sizing: sells before buys, buys scaled so that cash never goes negative after fees and
slippage, dust ignored) and :func:`fit_buys_to_cash`. No state, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from papertrade.strategies.base import RebalancePolicy

Side = Literal["buy", "sell"]
CASH_MARGIN = 1e-9


@dataclass(frozen=True)
class FillModel:
    """Costs of a fill: price worse than the reference by ``slippage``; ``fee`` on notional.

    Rates are fractions (10 bps = 0.001). The backtest configures backtrader with the same
    numbers; the dry run fills with this model directly.
    """

    fee: float = 0.0
    slippage: float = 0.0

    @classmethod
    def from_bps(cls, fee_bps: float, slippage_bps: float) -> FillModel:
        """Build from basis points as written in ``broker.fee_bps``/``broker.slippage_bps``."""
        return cls(fee=fee_bps / 10_000, slippage=slippage_bps / 10_000)

    def fill_price(self, side: Side, reference: float) -> float:
        """The price a market order fills at, given the reference (e.g. the open)."""
        return reference * (1 + self.slippage) if side == "buy" else reference * (1 - self.slippage)

    def fee_for(self, notional: float) -> float:
        """The fee charged on a fill of ``notional`` quote units."""
        return abs(notional) * self.fee


@dataclass(frozen=True)
class OrderIntent:
    """A market order the kernel wants: ``qty`` base units at about ``ref_price``."""

    symbol: str
    side: Side
    qty: float
    ref_price: float

    @property
    def notional(self) -> float:
        """Quote value at the reference price."""
        return self.qty * self.ref_price


def portfolio_value(
    cash: float, positions: Mapping[str, float], prices: Mapping[str, float]
) -> float:
    """Cash plus every position marked at ``prices``."""
    return cash + sum(qty * prices[s] for s, qty in positions.items() if qty)


def current_weights(
    cash: float, positions: Mapping[str, float], prices: Mapping[str, float]
) -> dict[str, float]:
    """Each position's share of the portfolio value."""
    equity = portfolio_value(cash, positions, prices)
    if equity <= 0:
        return {s: 0.0 for s in positions}
    return {s: qty * prices[s] / equity for s, qty in positions.items()}


def max_drift(targets: Mapping[str, float], current: Mapping[str, float]) -> float:
    """Largest absolute difference between target and current weights."""
    names = set(targets) | set(current)
    return max((abs(targets.get(s, 0.0) - current.get(s, 0.0)) for s in names), default=0.0)


EVENT_DRIFT = 1e-9  # an event is sent unless the portfolio is already at target


def send_threshold(event: str, scheduled: bool, policy: RebalancePolicy) -> float | None:
    """The drift a decision must exceed to be sent (None: not sent whatever the drift): the
    rebalance policy as a number, so that a simulator can test many decisions at once."""
    if event:
        return EVENT_DRIFT
    if policy.every == "on_change" and not scheduled:
        return None
    if policy.every != "daily" and not scheduled:
        return None
    return policy.drift


def should_send(
    targets: Mapping[str, float],
    current: Mapping[str, float],
    *,
    event: str,
    scheduled: bool,
    policy: RebalancePolicy,
) -> tuple[bool, str]:
    """Whether a decision goes to the broker, and why (for the journal)."""
    drift = max_drift(targets, current)
    threshold = send_threshold(event, scheduled, policy)
    if event:
        if drift > EVENT_DRIFT:
            return True, f"{event}: rebalance (max drift {drift:.1%})"
        return False, f"{event}: portfolio already at target"
    if threshold is None:
        return False, ("no event: hold" if policy.every == "on_change"
                       else "not a scheduled rebalance day")
    if drift > threshold:
        return True, f"drift {drift:.1%} > {policy.drift:.1%}: rebalance"
    return False, f"drift {drift:.1%} <= {policy.drift:.1%}: nothing to trade"


def plan_orders(
    targets: Mapping[str, float],
    positions: Mapping[str, float],
    cash: float,
    prices: Mapping[str, float],
    fills: FillModel,
    *,
    min_notional: float = 0.0,
) -> list[OrderIntent]:
    """Orders that move the portfolio to ``targets`` at ``prices``: sells first, then buys.

    Sizes come from the equity at ``prices`` (the execution bar's open in a backtest), so the
    targets are met at execution. Buys are scaled down together when the cash left after the
    sells (net of fees and slippage) cannot pay for them; a symbol without a price is skipped.
    Orders below ``min_notional`` are dust and are not sent.
    """
    tradable = {s: p for s, p in prices.items() if p and p > 0}
    equity = cash + sum(q * tradable[s] for s, q in positions.items() if s in tradable)
    sells: list[OrderIntent] = []
    buys: list[OrderIntent] = []
    for symbol in sorted(set(targets) | set(positions)):
        price = tradable.get(symbol)
        if price is None:
            continue
        held = positions.get(symbol, 0.0)
        wanted = max(targets.get(symbol, 0.0), 0.0) * equity / price
        delta = wanted - held
        if targets.get(symbol, 0.0) <= 0 and held > 0:
            delta = -held  # close completely, no dust left behind
        if abs(delta) * price < max(min_notional, 1e-9):
            continue
        if delta < 0:
            sells.append(OrderIntent(symbol, "sell", -delta, price))
        else:
            buys.append(OrderIntent(symbol, "buy", delta, price))
    return sells + fit_buys_to_cash(sells, buys, cash, fills, min_notional=min_notional)


def fit_buys_to_cash(
    sells: Sequence[OrderIntent],
    buys: Sequence[OrderIntent],
    cash: float,
    fills: FillModel,
    *,
    min_notional: float = 0.0,
) -> list[OrderIntent]:
    """``buys`` scaled down together so that they are paid for by ``cash`` plus what
    ``sells`` raise, net of fees and slippage; buys below ``min_notional`` are dropped."""
    proceeds = sum(
        o.qty * fills.fill_price("sell", o.ref_price) * (1 - fills.fee) for o in sells
    )
    cost = sum(o.qty * fills.fill_price("buy", o.ref_price) * (1 + fills.fee) for o in buys)
    # A relative margin keeps rounding (sizes * prices summed in another order by the broker)
    # from overdrawing cash by a few nano-units, which backtrader and exchanges reject.
    available = (cash + proceeds) * (1 - CASH_MARGIN)
    fitted = list(buys)
    if available <= 0:
        fitted = []
    elif cost > available:
        scale = available / cost
        fitted = [OrderIntent(o.symbol, "buy", o.qty * scale, o.ref_price) for o in buys]
    return [o for o in fitted if o.notional >= max(min_notional, 1e-9)]
