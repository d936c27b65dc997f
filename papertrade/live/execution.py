"""Sending orders exactly once over an unreliable exchange.

The protocol, per order (each step committed to the journal before the next exchange call):

1. the whole plan of a decision is journalled as ``planned`` orders with deterministic client
   order ids (run, decision time, symbol, leg);
2. an order is marked ``submitting``, then sent once;
3. a transient fault (:class:`BrokerUnavailable`) means the order may or may not exist: it is
   looked up by client order id (with backoff) and only re-sent when the exchange does not know
   it; a deterministic rejection (:class:`BrokerRejected`) is journalled and never retried;
4. after a crash, orders left ``submitting`` are resolved by the same lookup.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd
from loguru import logger

from papertrade.brokers.base import Fill, LiveBroker, OrderState
from papertrade.errors import BrokerRejected, BrokerUnavailable
from papertrade.journal import Journal
from papertrade.live import events as ev

T = TypeVar("T")
UNRESOLVED = ("planned", "submitting", "unknown")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter for transient faults."""

    attempts: int = 6
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = random.Random(0)  # noqa: RUF009 - a seeded default on purpose

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (1-based); honours Retry-After hints."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        jittered = self.rng.uniform(0, ceiling)
        return max(jittered, min(hint, self.max_seconds)) if hint else jittered


def with_retries(call: Callable[[], T], policy: RetryPolicy, what: str,
                 on_retry: Callable[[str], None],
                 transient: tuple[type[Exception], ...] = (BrokerUnavailable,)) -> T:
    """``call()``, retried on ``transient`` errors up to ``policy.attempts`` times."""
    for attempt in range(1, policy.attempts + 2):
        try:
            return call()
        except transient as exc:
            if attempt > policy.attempts:
                raise
            wait = policy.delay(attempt, getattr(exc, "retry_after", None))
            on_retry(f"{what}: {exc} (retry {attempt}/{policy.attempts} in {wait:.2f}s)")
            policy.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


class OrderExecutor:
    """Executes a decision's journalled plan against a broker, exactly once per order."""

    def __init__(self, broker: LiveBroker, journal: Journal, policy: RetryPolicy,
                 quote: str, now: Callable[[], pd.Timestamp],
                 bus: ev.EventBus | None = None) -> None:
        self.broker = broker
        self.bus = bus or ev.EventBus()
        self.journal = journal
        self.policy = policy
        self.quote = quote
        self.now = now

    def retry_event(self, message: str) -> None:
        logger.warning(message)
        self.journal.event(self.now(), "warning", "retry", message)
        self.journal.commit()
        self.bus.emit(ev.Retry(self.now(), message))

    def call(self, what: str, call: Callable[[], T],
             transient: tuple[type[Exception], ...] = (BrokerUnavailable,)) -> T:
        """A call retried on transient faults (each retry journalled)."""
        return with_retries(call, self.policy, what, self.retry_event, transient)

    # ------------------------------------------------------------------ plan execution

    def execute(self, decision_time: pd.Timestamp, resize: Callable[[str, str, float], float]
                ) -> list[OrderState]:
        """Send every unresolved order of the decision, in plan order (sells first).

        ``resize(symbol, side, qty)`` may shrink a buy to the cash actually free when it is
        sent (after the sells filled at real prices); it never changes the client order id.
        """
        from papertrade.journal import iso

        states: list[OrderState] = []
        rows = self.journal.rows(
            "SELECT client_order_id, symbol, side, qty, status FROM orders "
            "WHERE decision_time = ? ORDER BY id", (iso(decision_time),))
        for row in rows:
            if row["status"] not in UNRESOLVED:
                continue
            coid, symbol, side = row["client_order_id"], row["symbol"], row["side"]
            if row["status"] in ("submitting", "unknown"):
                found = self.lookup(symbol, coid)
                if found is not None:
                    states.append(self.record(found))
                    continue
            qty = resize(symbol, side, float(row["qty"]))
            if qty <= 0:
                self._mark(coid, symbol, side, float(row["qty"]), "skipped",
                           "nothing left to trade after the earlier legs")
                continue
            state = self.send(symbol, side, qty, coid)
            if state is not None:
                states.append(self.record(state))
        return states

    def send(self, symbol: str, side: str, qty: float, coid: str) -> OrderState | None:
        """Send one market order; on an uncertain outcome, find it before any re-send."""
        for attempt in range(1, self.policy.attempts + 2):
            self._mark(coid, symbol, side, qty, "submitting",
                       "" if attempt == 1 else f"attempt {attempt}",
                       request={"symbol": symbol, "side": side, "type": "market",
                                "amount": qty, "client_order_id": coid})
            try:
                return self.broker.market_order(symbol, side, qty, coid)  # type: ignore[arg-type]
            except BrokerRejected as exc:
                self._mark(coid, symbol, side, qty, "rejected", f"{exc.kind}: {exc}")
                self.journal.event(self.now(), "warning", "rejection",
                                   f"{side} {qty:.8g} {symbol} ({coid}): {exc}")
                self.journal.commit()
                logger.warning("order {} rejected: {}", coid, exc)
                self.bus.emit(ev.Rejection(self.now(), coid, symbol, side, qty, str(exc)))
                return None
            except BrokerUnavailable as exc:
                self.retry_event(f"order {coid}: {exc}; looking it up before any re-send")
                found = self.lookup(symbol, coid)
                if found is not None:
                    return found
                if attempt > self.policy.attempts:
                    break
                self.policy.sleep(self.policy.delay(attempt, exc.retry_after))
        self._mark(coid, symbol, side, qty, "unknown", "exchange unreachable; resolve on restart")
        self.journal.commit()
        return None

    def lookup(self, symbol: str, coid: str) -> OrderState | None:
        """The order the exchange holds under ``coid``, or None if it never arrived."""
        return self.call(f"lookup {coid}", lambda: self.broker.find_order(symbol, coid))

    def record(self, state: OrderState) -> OrderState:
        """Journal an order's state and its fills (fills deduplicated by trade id)."""
        status = "filled" if state.status == "filled" else state.status
        self._mark(state.client_order_id, state.symbol, state.side, state.qty, status, "",
                   response=state.raw)
        self.bus.emit(ev.OrderPlaced(self.now(), state.client_order_id, state.symbol,
                                     state.side, state.qty, status))
        fills = state.fills or tuple(
            f for f in self.call(f"trades {state.symbol}",
                                 lambda: self.broker.trades(state.symbol))
            if f.client_order_id == state.client_order_id)
        for fill in fills:
            self.journal_fill(fill)
        self.journal.commit()
        return state

    def journal_fill(self, fill: Fill) -> bool:
        """Record one execution unless its trade id is already journalled."""
        time = pd.Timestamp(fill.time_ms, unit="ms", tz="UTC")
        new = self.journal.fill(
            fill.client_order_id, time=time,
            symbol=fill.symbol, side=fill.side, qty=fill.qty, price=fill.price, fee=fill.fee,
            fee_currency=fill.fee_currency, trade_id=fill.trade_id,
        )
        if new:
            self.bus.emit(ev.Trade(time, fill.client_order_id, fill.symbol, fill.side, fill.qty,
                                   fill.price, fill.fee, fill.fee_currency))
        return new

    def _mark(self, coid: str, symbol: str, side: str, qty: float, status: str, reason: str,
              request: object = None, response: object = None) -> None:
        self.journal.order(coid, decision_time=None, time=self.now(), symbol=symbol, side=side,
                           qty=qty, ref_price=None, status=status, reason=reason,
                           request=request, response=response)
        self.journal.commit()
