"""The live decision loop: the same strategy and sizing kernel as the backtest, one bar at a time.

At each decision time (a traded bar's close plus ``live.decision_delay_seconds``) the loop
refreshes market history, asks the strategy for target weights, compares them with the
exchange's balances under the rebalance policy, journals the plan, and executes it exactly
once (:mod:`papertrade.live.execution`). Safety rails: maximum order notional, maximum daily
turnover, a drawdown kill switch, a kill file, and graceful stop on SIGINT/SIGTERM.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import pandas as pd
from loguru import logger

from papertrade.brokers.base import LiveBroker
from papertrade.config import RunConfig
from papertrade.data.history import MarketHistory
from papertrade.errors import BrokerUnavailable, DataError
from papertrade.journal import Journal, iso
from papertrade.live.clock import Clock
from papertrade.live.execution import OrderExecutor
from papertrade.live.feed import LiveMarketFeed
from papertrade.rebalance import (
    CASH_MARGIN,
    FillModel,
    OrderIntent,
    current_weights,
    plan_orders,
    should_send,
)
from papertrade.strategies import Strategy
from papertrade.strategies.base import scheduled_days

T = TypeVar("T")


@dataclass
class LoopOutcome:
    """How the loop ended."""

    decisions: int
    stop_reason: str


def base_asset(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTC``."""
    return symbol.split("/")[0]


class LiveTrader:
    """Runs a strategy against a :class:`LiveBroker` on an injected clock."""

    def __init__(self, *, run: RunConfig, strategy: Strategy, broker: LiveBroker,
                 feed: LiveMarketFeed, clock: Clock, journal: Journal, folder: Path,
                 executor: OrderExecutor, run_tag: str,
                 stop: threading.Event | None = None) -> None:
        self.run = run
        self.strategy = strategy
        self.broker = broker
        self.feed = feed
        self.clock = clock
        self.journal = journal
        self.folder = folder
        self.executor = executor
        self.run_tag = run_tag
        self.quote = run.broker.quote
        self.traded = strategy.traded_symbols()
        self.fills = FillModel.from_bps(run.broker.fee_bps, run.broker.slippage_bps)
        self.stop = stop or threading.Event()
        self.stop_reason = ""
        self.last_history: MarketHistory | None = None

    # ------------------------------------------------------------------ schedule

    def next_decision(self, after: pd.Timestamp) -> pd.Timestamp:
        """The first traded-bar close strictly after ``after`` (daily bars close at 00:00 UTC)."""
        return after.floor("D") + pd.Timedelta(days=1)

    def last_decided(self) -> pd.Timestamp | None:
        """The latest decision time already journalled (a resumed run carries on after it)."""
        rows = self.journal.rows("SELECT MAX(time) AS t FROM decisions")
        return pd.Timestamp(rows[0]["t"]) if rows and rows[0]["t"] else None

    # ------------------------------------------------------------------ portfolio

    def portfolio(self) -> tuple[float, dict[str, float]]:
        """Quote cash and base-asset holdings of the traded symbols (free + locked)."""
        balances = self.executor.call("balances", self.broker.balances)
        cash = sum(balances.get(self.quote, (0.0, 0.0)))
        positions = {s: sum(balances.get(base_asset(s), (0.0, 0.0))) for s in self.traded}
        return cash, {s: q for s, q in positions.items() if q > 0}

    def prices(self, symbols: list[str]) -> dict[str, float]:
        """Current reference prices."""
        return {s: self.executor.call(f"price {s}", partial(self.broker.last_price, s))
                for s in symbols}

    def mark(self, time: pd.Timestamp, label: str) -> float:
        """Journal equity and positions at current prices; returns equity."""
        cash, positions = self.portfolio()
        prices = self.prices(list(positions))
        equity = self.journal.mark(time, label, cash,
                                   {s: (q, prices[s]) for s, q in positions.items()})
        self.journal.commit()
        return equity

    # ------------------------------------------------------------------ one decision

    def step(self, time: pd.Timestamp) -> bool:
        """Decide at ``time`` on the history known then, execute, mark; False if no bar
        closed at ``time`` (before the history starts, or the exchange has not published it)."""
        history = self._history().truncate(time)
        self.last_history = history
        if not len(history.clock) or history.clock[-1] != time:
            self.journal.event(time, "warning", "data",
                               f"no traded bar closing at {iso(time)} yet: decision skipped")
            self.journal.commit()
            return False
        label = history.labels()[-1].strftime("%Y-%m-%d")
        self._decide(time, label, history)
        self.executor.execute(time, self._resize)
        self._reconcile_fills(time)
        equity = self.mark(time, label)
        self._check_drawdown(equity)
        return True

    def _through_outages(self, what: str, action: Callable[[], T], attempts: int = 10
                         ) -> T | None:
        """``action()``; when its own retries ran out, it is tried again after a pause, never
        skipped silently. None when a stop was requested meanwhile. Rejections propagate."""
        for attempt in range(1, attempts + 1):
            try:
                return action()
            except (BrokerUnavailable, DataError) as exc:
                message = f"{what}: {exc}; retrying ({attempt}/{attempts})"
                logger.warning(message)
                self.journal.event(self.clock.now(), "warning", "outage", message)
                self.journal.commit()
                if self.stop.wait(self.run.live.backoff_max_seconds):
                    return None
        raise BrokerUnavailable(f"{what}: exchange unavailable after {attempts} rounds of "
                                "retries")

    def _decide_once(self, when: pd.Timestamp) -> bool:
        """The decision at ``when``; a plan already journalled is finished, not re-planned."""
        if self.journal.rows("SELECT 1 FROM decisions WHERE time = ?", (iso(when),)):
            self.resume()
            label = (when - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
            self._check_drawdown(self.mark(when, label))
            return True
        return self.step(when)

    def _start(self) -> bool:
        self.portfolio()  # credentials and connectivity fail now, not at the first decision
        self.resume()
        return True

    def resume(self) -> None:
        """After a crash: settle every order left unresolved, pick up missed fills, report
        open orders papertrade did not place (they are left alone)."""
        pending = self.journal.rows(
            "SELECT DISTINCT decision_time FROM orders WHERE status IN "
            "('planned', 'submitting', 'unknown') ORDER BY decision_time")
        for row in pending:
            decided = pd.Timestamp(row["decision_time"])
            logger.warning("resuming the plan of {}", iso(decided))
            self.journal.event(self.clock.now(), "warning", "resume",
                               f"finishing the orders of the decision at {iso(decided)}")
            self.executor.execute(decided, self._resize)
        last = self.last_decided()
        if last is not None:
            self._reconcile_fills(last - pd.Timedelta(days=2))
        ours = {r["client_order_id"] for r in self.journal.rows(
            "SELECT client_order_id FROM orders")}
        for order in self.executor.call("open orders",
                                        partial(self.broker.open_orders, self.traded)):
            if order.client_order_id not in ours:
                message = (f"open order {order.client_order_id} on {order.symbol} was not "
                           "placed by this run: left alone")
                logger.warning(message)
                self.journal.event(self.clock.now(), "warning", "foreign_order", message)
        self.journal.commit()

    def _history(self) -> MarketHistory:
        """Market history now; a data outage is retried like any transient fault."""
        return self.executor.call("market data", lambda: self.feed.history(self.clock.now()),
                                  transient=(DataError,))

    def _decide(self, time: pd.Timestamp, label: str, history: MarketHistory) -> None:
        decided = self.strategy.decide(history)
        targets = {str(s): float(w) for s, w in decided.weights.iloc[-1].items()}
        event = str(decided.events.iloc[-1])
        inputs = {str(k): v for k, v in decided.inputs.iloc[-1].items() if not pd.isna(v)}
        inputs["event"] = event
        cash, positions = self.portfolio()
        held = [s for s in self.traded if targets.get(s, 0) > 0 or s in positions]
        prices = self.prices(held)
        current = current_weights(cash, positions, prices)
        scheduled = bool(scheduled_days(history, self.strategy.rebalance)[-1])
        send, why = should_send(targets, current, event=event, scheduled=scheduled,
                                policy=self.strategy.rebalance)
        intents = self._plan(targets, positions, cash, prices, time) if send else []
        if send and not intents:
            send, why = False, f"{why}; every difference is dust"
        self.journal.decision(time, label, targets, inputs,
                              f"{decided.reasons.iloc[-1]} [{why}]", sent=send)
        for leg, intent in enumerate(intents):
            self.journal.order(
                self.client_order_id(time, intent, leg), decision_time=time, time=time,
                symbol=intent.symbol, side=intent.side, qty=intent.qty,
                ref_price=intent.ref_price, status="planned",
            )
        self.journal.commit()
        logger.info("{} {}: {} [{}] {} orders", iso(time), label,
                    decided.reasons.iloc[-1], why, len(intents))

    def client_order_id(self, time: pd.Timestamp, intent: OrderIntent, leg: int) -> str:
        """Deterministic: run, decision time, symbol, leg (Binance allows 36 characters)."""
        return f"pt{self.run_tag}{time:%y%m%d%H%M}{base_asset(intent.symbol)[:6]}{leg}"[:36]

    def _plan(self, targets: dict[str, float], positions: dict[str, float], cash: float,
              prices: dict[str, float], time: pd.Timestamp) -> list[OrderIntent]:
        planned: list[OrderIntent] = []
        budget = self._turnover_budget(time, cash, positions, prices)
        for intent in plan_orders(targets, positions, cash, prices, self.fills,
                                  min_notional=self.run.live.dust_notional):
            qty = intent.qty
            cap = self.run.risk.max_order_notional
            if cap is not None and qty * intent.ref_price > cap:
                qty = cap / intent.ref_price
            if budget is not None:
                qty = min(qty, max(budget, 0.0) / intent.ref_price)
            rules = self.broker.rules(intent.symbol)
            qty = self.broker.amount_to_precision(intent.symbol, qty)
            if qty <= 0 or qty * intent.ref_price < max(rules.min_notional,
                                                        self.run.live.dust_notional):
                continue
            if budget is not None:
                budget -= qty * intent.ref_price
            planned.append(OrderIntent(intent.symbol, intent.side, qty, intent.ref_price))
        return planned

    def _turnover_budget(self, time: pd.Timestamp, cash: float, positions: dict[str, float],
                         prices: dict[str, float]) -> float | None:
        limit = self.run.risk.max_daily_turnover
        if limit is None:
            return None
        equity = cash + sum(q * prices.get(s, 0.0) for s, q in positions.items())
        day = iso(time.floor("D"))
        traded = self.journal.rows(
            "SELECT COALESCE(SUM(qty * price), 0) AS n FROM fills WHERE time >= ?", (day,))
        return float(limit * equity - traded[0]["n"])

    def _resize(self, symbol: str, side: str, qty: float) -> float:
        """Shrink a buy to the quote actually free now; sells to what is actually held."""
        balances = self.executor.call("balances", self.broker.balances)
        if side == "sell":
            held = balances.get(base_asset(symbol), (0.0, 0.0))[0]
            return self.broker.amount_to_precision(symbol, min(qty, held))
        free = balances.get(self.quote, (0.0, 0.0))[0] * (1 - CASH_MARGIN)
        price = self.executor.call(f"price {symbol}", lambda: self.broker.last_price(symbol))
        affordable = free / (self.fills.fill_price("buy", price) * (1 + self.fills.fee))
        return self.broker.amount_to_precision(symbol, min(qty, affordable))

    def _reconcile_fills(self, since: pd.Timestamp) -> None:
        """Journal any execution the exchange reports that the journal lacks."""
        since_ms = int(since.value // 1_000_000) - 60_000
        for symbol in self.traded:
            for fill in self.executor.call(f"trades {symbol}",
                                           partial(self.broker.trades, symbol, since_ms)):
                if self.executor.journal_fill(fill):
                    logger.info("reconciled fill {} of {}", fill.trade_id, fill.client_order_id)
        self.journal.commit()

    # ------------------------------------------------------------------ rails

    def _check_drawdown(self, equity: float) -> None:
        limit = self.run.risk.kill_drawdown
        if limit is None:
            return
        peak = self.journal.rows("SELECT MAX(equity) AS p FROM equity")[0]["p"] or equity
        if equity < peak * (1 - limit):
            drawdown = f"drawdown {equity / peak - 1:.1%} beyond risk.kill_drawdown -{limit:.1%}"
            message = f"{drawdown}: flattening to {self.quote} and stopping"
            logger.error(message)
            self.journal.event(self.clock.now(), "error", "kill_switch", message)
            self.journal.commit()
            self.flatten(self.clock.now())
            self.request_stop(f"kill switch: {drawdown}")

    def flatten(self, time: pd.Timestamp) -> None:
        """Sell every traded position to the quote currency, then mark the result.

        Each sell is journalled as ``planned`` (decision time ``time``) before it is sent and
        its fills are recorded, so a crash mid-flatten is finished on restart like any plan.
        Not cut by ``risk.max_order_notional``: the kill switch has to get out completely.
        The mark replaces the latest one (same time and bar label), so equity.csv still has
        one row per bar and ends at the flattened equity.
        """
        cash, positions = self.portfolio()
        prices = self.prices(list(positions))
        targets = dict.fromkeys(self.traded, 0.0)
        for leg, intent in enumerate(plan_orders(targets, positions, cash, prices, self.fills)):
            qty = self.broker.amount_to_precision(intent.symbol, intent.qty)
            if qty <= 0:
                continue
            coid = self.client_order_id(time, intent, 90 + leg)
            self.journal.order(coid, decision_time=time, time=time, symbol=intent.symbol,
                               side=intent.side, qty=qty, ref_price=intent.ref_price,
                               status="planned", reason="kill switch")
            self.journal.commit()
            state = self.executor.send(intent.symbol, intent.side, qty, coid)
            if state is not None:
                self.executor.record(state)
        latest = self.journal.rows("SELECT time, date FROM equity ORDER BY time DESC LIMIT 1")
        if latest:
            self.mark(pd.Timestamp(latest[0]["time"]), latest[0]["date"])

    def request_stop(self, reason: str) -> None:
        """Stop before the next decision (signal handlers call this)."""
        self.stop_reason = self.stop_reason or reason
        self.stop.set()

    def kill_file_present(self) -> bool:
        """True when the kill file exists in the run folder."""
        return (self.folder / self.run.risk.kill_file).exists()

    # ------------------------------------------------------------------ the loop

    def run_until(self, until: pd.Timestamp | None, once: bool = False) -> LoopOutcome:
        """Decide at every bar close until ``until`` (inclusive), a stop, or one step."""
        decisions = 0
        if self._through_outages("start", self._start) is None:
            return LoopOutcome(0, self.stop_reason or "stopped")
        last = self.last_decided()
        start = last if last is not None else self.clock.now() - pd.Timedelta(microseconds=1)
        when = self.next_decision(start)
        delay = pd.Timedelta(seconds=self.run.live.decision_delay_seconds)
        while not self.stop.is_set():
            if until is not None and when > until:
                last_bar = (until - pd.Timedelta(days=1)).date()
                self.stop_reason = self.stop_reason or f"reached --until {last_bar}"
                break
            if self.kill_file_present():
                self.request_stop(f"kill file {self.run.risk.kill_file}")
                break
            if not self.clock.sleep_until(when + delay, self.stop):
                break
            if self.kill_file_present():  # it may have appeared while we slept
                self.request_stop(f"kill file {self.run.risk.kill_file}")
                break
            decided = self._through_outages(f"decision {iso(when)}",
                                            partial(self._decide_once, when))
            if decided is None:
                break
            decisions += int(decided)
            if once and decided:
                self.stop_reason = "--once"
                break
            when = self.next_decision(when)
        return LoopOutcome(decisions, self.stop_reason or "stopped")
