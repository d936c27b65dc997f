"""The trading kernel: the only code that turns target weights into journalled order intents.

Every mode calls it the same way at each decision time ``t`` (the instant a traded bar closed):

1. :meth:`Trader.mark` journals equity and positions at ``t``'s prices and feeds the risk
   engine (the drawdown kill switch fires here);
2. :meth:`Trader.decide` applies the rebalance policy to the strategy's decision at ``t`` and
   journals it with its inputs; a decision to trade becomes *pending*;
3. :meth:`Trader.plan` sizes the pending decision at the execution prices (sells first, buys
   fitted to the cash), applies the risk rails, the venue's lot sizes and minimum notional,
   and journals the orders as ``planned`` under deterministic client order ids.

The backtest plans at the next bar's open (backtrader's cheat-on-open); a live run plans at
once, at the current prices. What happens next is the executor's: backtrader fills, or the
live executor sends each planned order exactly once. Nothing here knows which mode runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from papertrade.config_models import RunConfig
from papertrade.journal import Journal, iso
from papertrade.rebalance import (
    FillModel,
    OrderIntent,
    Side,
    current_weights,
    plan_orders,
    should_send,
)
from papertrade.risk import RailNote, RiskEngine
from papertrade.strategies.base import Decisions, RebalancePolicy


@dataclass(frozen=True)
class DecisionRow:
    """A strategy's decision at one decision time, as the kernel consumes it."""

    time: pd.Timestamp
    label: str  # the bar date that closed at ``time``
    targets: dict[str, float]
    event: str
    reason: str
    inputs: dict[str, Any]
    scheduled: bool

    @classmethod
    def of(cls, decisions: Decisions, row: int, label: str, scheduled: bool) -> DecisionRow:
        """Row ``row`` of ``decisions``."""
        weights = decisions.weights
        inputs = decisions.inputs.iloc[row]
        return cls(
            time=pd.Timestamp(weights.index[row]), label=label,
            targets={str(s): float(w) for s, w in weights.iloc[row].items()},
            event=str(decisions.events.iloc[row]), reason=str(decisions.reasons.iloc[row]),
            inputs={str(k): v for k, v in inputs.items() if not pd.isna(v)},
            scheduled=bool(scheduled),
        )


@dataclass(frozen=True)
class PlannedOrder:
    """An order the kernel journalled as ``planned``: ``qty`` is what the venue accepts,
    ``target_qty`` the kernel's size before lot rounding."""

    client_order_id: str
    symbol: str
    side: Side
    qty: float
    target_qty: float
    ref_price: float


class Venue(Protocol):
    """What the kernel needs to know of where orders go: lot sizes and minimum notional."""

    def amount_to_precision(self, symbol: str, qty: float) -> float:
        """``qty`` truncated to the market's lot size (never rounded up)."""

    def min_notional(self, symbol: str) -> float:
        """The smallest order value the venue accepts on ``symbol``."""


class AnyAmountVenue:
    """A venue that takes any fractional amount (the backtest's)."""

    def amount_to_precision(self, symbol: str, qty: float) -> float:
        return qty

    def min_notional(self, symbol: str) -> float:
        return 0.0


def base_asset(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTC``."""
    return symbol.split("/")[0]


def client_order_id(run_tag: str, time: dt.datetime, symbol: str, leg: int) -> str:
    """Deterministic: run, decision time, base asset, leg (Binance allows 36 characters)."""
    return order_id(run_tag, order_stamp(time), symbol, leg)


def order_stamp(time: dt.datetime) -> str:
    """The decision time as a client order id writes it."""
    return f"{time:%y%m%d%H%M}"


def order_id(run_tag: str, stamp: str, symbol: str, leg: int) -> str:
    """:func:`client_order_id` with the time already written by :func:`order_stamp`."""
    return f"pt{run_tag}{stamp}{base_asset(symbol)[:6]}{leg}"[:36]


@dataclass
class PendingDecision:
    """A decision to trade, waiting for :meth:`Trader.plan` at the execution prices."""

    time: pd.Timestamp
    targets: dict[str, float]
    flatten: bool = False


class Trader:
    """The kernel: rebalance policy, sizing, rails, venue rules, journal, order ids."""

    def __init__(self, *, journal: Journal, policy: RebalancePolicy, fills: FillModel,
                 risk: RiskEngine, venue: Venue, run_tag: str,
                 dust_notional: float = 0.0) -> None:
        self.journal = journal
        self.policy = policy
        self.fills = fills
        self.risk = risk
        self.venue = venue
        self.run_tag = run_tag
        self.dust_notional = dust_notional
        self.pending: PendingDecision | None = None
        self.catching_up = False  # a rail cut the last plan: re-plan until targets are met
        self.flattened = False  # the kill switch's flatten was planned

    @classmethod
    def for_run(cls, run: RunConfig, *, journal: Journal, policy: RebalancePolicy,
                venue: Venue, run_tag: str, dust_notional: float = 0.0) -> Trader:
        """The kernel a run's config asks for: its fees and slippage, its risk rails."""
        return cls(journal=journal, policy=policy,
                   fills=FillModel.from_bps(run.broker.fee_bps, run.broker.slippage_bps),
                   risk=RiskEngine.from_config(run.risk), venue=venue, run_tag=run_tag,
                   dust_notional=dust_notional)

    # ------------------------------------------------------------------ the three steps

    def mark(self, time: pd.Timestamp, label: str, cash: float,
             positions: Mapping[str, float], prices: Mapping[str, float]) -> float:
        """Journal equity and positions at ``time``; the kill switch may fire. Returns equity."""
        equity = self.journal.mark(time, label, cash,
                                   {s: (q, prices[s]) for s, q in positions.items() if q})
        fired = self.risk.on_mark(time, equity)
        if fired:
            self.journal.event(time, "error", "kill_switch", fired)
        return equity

    def decide(self, row: DecisionRow, cash: float, positions: Mapping[str, float],
               prices: Mapping[str, float], *, executable: bool = True) -> bool:
        """Apply the rebalance policy to ``row`` and journal it; True when a plan follows.

        ``executable`` is False when the executor cannot trade after ``row`` (a backtest's last
        bar): the decision is journalled as not sent, with that reason.
        """
        if self.risk.halted:
            send = not self.flattened and executable and any(q > 0 for q in positions.values())
            why = "kill switch fired: flatten to cash" if send else "kill switch: not trading"
            if send:
                self.pending = PendingDecision(row.time, dict.fromkeys(row.targets, 0.0), True)
                self.flattened = True
            self._journal_decision(row, why, send)
            return send
        current = current_weights(cash, positions, prices)
        event = row.event or ("rail catch-up" if self.catching_up else "")
        send, why = should_send(row.targets, current, event=event, scheduled=row.scheduled,
                                policy=self.policy)
        if send and not executable:
            send, why = False, f"{why}; not executed: no later bar in the data"
        if send:
            self.pending = PendingDecision(row.time, row.targets)
        elif event == "rail catch-up":
            self.catching_up = False  # already at target
        self._journal_decision(row, why, send)
        return send

    def plan(self, cash: float, positions: Mapping[str, float],
             prices: Mapping[str, float]) -> list[PlannedOrder]:
        """Size the pending decision at ``prices`` and journal its orders as ``planned``."""
        pending, self.pending = self.pending, None
        if pending is None:
            return []
        time = pending.time
        intents = plan_orders(pending.targets, positions, cash, prices, self.fills,
                              min_notional=self.dust_notional)
        notes: list[RailNote] = []
        if not pending.flatten:  # the kill switch is not cut by the other rails
            equity = cash + sum(q * prices[s] for s, q in positions.items() if s in prices)
            intents, notes = self.risk.apply(intents, cash=cash, equity=equity,
                                             traded_today=self._traded_on(time),
                                             fills=self.fills)
        self.catching_up = bool(notes)
        for note in notes:
            self.journal.event(time, "warning", "rail", f"{note.rail}: {note.message}")
        planned = self._venue_orders(time, intents, pending.flatten)
        for order in planned:
            self.journal.order(
                order.client_order_id, decision_time=time, time=time, symbol=order.symbol,
                side=order.side, qty=order.qty, ref_price=order.ref_price, status="planned",
                reason="kill switch" if pending.flatten else "", target_qty=order.target_qty)
        if not planned:
            self.journal.event(time, "info", "plan", "nothing to trade: every difference is "
                               "below the minimum order size")
        return planned

    # ------------------------------------------------------------------ helpers

    def _venue_orders(self, time: pd.Timestamp, intents: list[OrderIntent],
                      flatten: bool) -> list[PlannedOrder]:
        planned: list[PlannedOrder] = []
        for leg, intent in enumerate(intents):
            qty = self.venue.amount_to_precision(intent.symbol, intent.qty)
            floor = max(self.venue.min_notional(intent.symbol), self.dust_notional)
            if qty <= 0 or qty * intent.ref_price < floor:
                continue
            coid = client_order_id(self.run_tag, time, intent.symbol,
                                   leg + (90 if flatten else 0))
            planned.append(PlannedOrder(coid, intent.symbol, intent.side, qty, intent.qty,
                                        intent.ref_price))
        return planned

    def _journal_decision(self, row: DecisionRow, why: str, send: bool) -> None:
        self.journal.decision(row.time, row.label, row.targets,
                              {**row.inputs, "event": row.event},
                              f"{row.reason} [{why}]", sent=send)

    def _traded_on(self, time: pd.Timestamp) -> float:
        """Quote notional filled since the start of ``time``'s UTC day."""
        rows = self.journal.rows("SELECT COALESCE(SUM(qty * price), 0) AS n FROM fills "
                                 "WHERE time >= ?", (iso(time.floor("D")),))
        return float(rows[0]["n"])

    def restore(self) -> None:
        """Carry on a resumed run: the risk engine's peak and kill state from the journal."""
        peak = self.journal.rows("SELECT MAX(equity) AS p FROM equity")[0]["p"]
        fired = self.journal.rows("SELECT message FROM events WHERE kind = 'kill_switch' "
                                  "ORDER BY id LIMIT 1")
        self.risk.restore(peak, fired[0]["message"] if fired else "")
        self.flattened = bool(fired)

