"""The live decision loop: the backtest's strategy and trading kernel, one bar at a time.

At each decision time (a traded bar's close plus ``live.decision_delay_seconds``) the loop
refreshes market history, asks the strategy for its latest decision (incrementally: see
``Strategy.decide_latest``), and hands it to the kernel (:class:`~papertrade.trader.Trader`)
with the exchange's balances and prices: the kernel marks, applies the rebalance policy and the
risk rails, and journals the plan, which :mod:`papertrade.live.execution` sends exactly once.
The loop adds what only a live run has: the kill file, graceful stop on SIGINT/SIGTERM, and
stopping the run when the kill switch fires.
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
from papertrade.live import events as ev
from papertrade.live import readiness
from papertrade.live.clock import Clock
from papertrade.live.execution import OrderExecutor
from papertrade.live.feed import LiveMarketFeed
from papertrade.live.market_data import FillMarketPrices
from papertrade.live.resets import CapitalWatch
from papertrade.rebalance import CASH_MARGIN
from papertrade.strategies import Strategy
from papertrade.strategies.base import checked_decide, is_scheduled
from papertrade.trader import DecisionRow, PendingDecision, Trader, base_asset

T = TypeVar("T")


@dataclass
class LoopOutcome:
    """How the loop ended."""

    decisions: int
    stop_reason: str


class LiveTrader:
    """Runs a strategy against a :class:`LiveBroker` on an injected clock."""

    def __init__(self, *, run: RunConfig, strategy: Strategy, broker: LiveBroker,
                 feed: LiveMarketFeed, clock: Clock, journal: Journal, folder: Path,
                 executor: OrderExecutor, kernel: Trader,
                 stop: threading.Event | None = None, bus: ev.EventBus | None = None) -> None:
        self.run = run
        self.strategy = strategy
        self.broker = broker
        self.feed = feed
        self.clock = clock
        self.journal = journal
        self.folder = folder
        self.executor = executor
        self.kernel = kernel
        self.quote = run.broker.quote
        self.traded = strategy.traded_symbols()
        self.stop = stop or threading.Event()
        self.stop_reason = ""
        self.last_history: MarketHistory | None = None
        self.bus = bus or executor.bus
        self.strict = False  # --once: refuse to decide on stale inputs, say why instead
        self.resumed = False
        self.skip_reason = ""
        self.capital: CapitalWatch | None = None  # testnet resets and transfers
        self.market_prices: FillMarketPrices | None = None  # real-market price of each fill

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
        """Current reference prices (one request where the venue can)."""
        if not symbols:
            return {}
        return self.executor.call("prices", partial(self.broker.last_prices, symbols))

    def mark(self, time: pd.Timestamp, label: str) -> float:
        """Journal equity and positions at current prices (the kernel's mark); returns equity."""
        cash, positions = self.portfolio()
        equity = self.kernel.mark(time, label, cash, positions, self.prices(list(positions)))
        self.journal.commit()
        return equity

    # ------------------------------------------------------------------ one decision

    def step(self, time: pd.Timestamp) -> bool:
        """The kernel's mark, decision and plan at ``time`` on the history known then, and the
        plan's execution; False if no bar closed at ``time`` (before the history starts, or the
        exchange has not published it)."""
        history = self._history().truncate(time)
        self.last_history = history
        if not len(history.clock) or history.clock[-1] != time:
            why = readiness.missing_bar(history, time, self.broker.name) + (
                "; retry in a minute, or run without --once to wait for it" if self.strict
                else "; the run carries on at the next bar")
            self.journal.event(time, "warning", "data", f"decision skipped: {why}")
            self.journal.commit()
            self.skip_reason = why
            self.bus.emit(ev.Skipped(self.clock.now(), time, why))
            return False
        stale = readiness.stale_inputs(history, time, self.feed.origins) if self.strict else []
        if stale:
            self.skip_reason = "; ".join(stale)
            self.bus.emit(ev.Skipped(self.clock.now(), time, self.skip_reason))
            return False
        row = self._latest_row(history)
        cash, positions = self.portfolio()
        rebuild = self.capital.check(time, cash, positions, self.kernel.risk) \
            if self.capital else None
        prices = self.prices([s for s in self.traded if row.targets.get(s, 0) > 0
                              or s in positions or (rebuild and s in rebuild)])
        equity = self.kernel.mark(time, row.label, cash, positions, prices)
        self.kernel.decide(row, cash, positions, prices)
        if rebuild is not None and self.kernel.pending is None and not self.kernel.risk.halted:
            self.kernel.pending = PendingDecision(time, rebuild)  # the pre-wipe composition
        if rebuild is not None and self.capital and self.capital.last:
            self.bus.emit(ev.Capital(self.clock.now(), *self.capital.last, self.quote))
        planned = self.kernel.plan(cash, positions, prices)
        self.journal.commit()
        logger.info("{} {}: {} ({} orders)", iso(time), row.label, row.reason, len(planned))
        self.bus.emit(ev.Decision(
            self.clock.now(), row.label, row.reason, dict(row.targets), len(planned), equity,
            cash, positions, {s: float(c.iloc[-1]) for s, c in history.dated_closes(
                self.strategy.benchmark_symbols()).items() if len(c)}))
        if planned:
            before = self.market_prices.last_fill_id() if self.market_prices else 0
            self.executor.execute(time, self._resize)
            if self.market_prices:
                self.market_prices.record(before)
        if self.kernel.risk.halted:
            self._stop_after_kill(time, row.label)
        return True

    def _latest_row(self, history: MarketHistory) -> DecisionRow:
        """The strategy's decision at the history's last time, asked incrementally."""
        decided = checked_decide(self.strategy, history, latest=True)
        label = pd.Timestamp(next(
            history.native(s)["date"].iloc[-1] for s in history.traded
            if len(history.native(s)) and history.native(s).index[-1] == history.now))
        scheduled = is_scheduled(label, self.strategy.rebalance)
        return DecisionRow.of(decided, -1, label.strftime("%Y-%m-%d"), scheduled)

    def _stop_after_kill(self, time: pd.Timestamp, label: str) -> None:
        """The kill switch fired at this mark and the kernel's flatten was executed: mark the
        flattened account (replacing this time's mark) and stop the run."""
        self.mark(time, label)
        self.request_stop(str(self.kernel.risk.kill.fired if self.kernel.risk.kill else ""))
        self.bus.emit(ev.KillSwitch(self.clock.now(), self.stop_reason))

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
                self.bus.emit(ev.Retry(self.clock.now(), message))
                if self.stop.wait(self.run.live.backoff_max_seconds):
                    return None
        raise BrokerUnavailable(f"{what}: exchange unavailable after {attempts} rounds of "
                                "retries")

    def _decide_once(self, when: pd.Timestamp) -> bool:
        """The decision at ``when``; a plan already journalled is finished, not re-planned."""
        if self.journal.rows("SELECT 1 FROM decisions WHERE time = ?", (iso(when),)):
            self.resume()
            if self.kernel.risk.halted:
                self._stop_after_kill(when, (when - pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
            return True
        return self.step(when)

    def _start(self) -> bool:
        self.portfolio()  # credentials and connectivity fail now, not at the first decision
        self.kernel.restore()
        if self.capital:
            self.capital.rescale_peak(self.kernel.risk)
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

    def _resize(self, symbol: str, side: str, qty: float) -> float:
        """Shrink a buy to the quote actually free now; sells to what is actually held."""
        balances = self.executor.call("balances", self.broker.balances)
        if side == "sell":
            held = balances.get(base_asset(symbol), (0.0, 0.0))[0]
            return self.broker.amount_to_precision(symbol, min(qty, held))
        free = balances.get(self.quote, (0.0, 0.0))[0] * (1 - CASH_MARGIN)
        price = self.executor.call(f"price {symbol}", lambda: self.broker.last_price(symbol))
        fills = self.kernel.fills
        affordable = free / (fills.fill_price("buy", price) * (1 + fills.fee))
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

    # ------------------------------------------------------------------ stopping

    def request_stop(self, reason: str) -> None:
        """Stop before the next decision (signal handlers call this)."""
        self.stop_reason = self.stop_reason or reason
        self.stop.set()

    def kill_file_present(self) -> bool:
        """True when the kill file exists in the run folder."""
        return (self.folder / self.run.risk.kill_file).exists()

    # ------------------------------------------------------------------ the loop

    def run_until(self, until: pd.Timestamp | None, once: bool = False) -> LoopOutcome:
        """Decide at every bar close until ``until`` (inclusive), a stop, or one step.

        ``once``: decide on the latest bar closed now (waiting out the decision delay), or
        say exactly why not (:class:`~papertrade.live.events.Skipped`), then stop."""
        decisions = 0
        self.strict = once
        if self._through_outages("start", self._start) is None:
            return LoopOutcome(0, self.stop_reason or "stopped")
        last = self.last_decided()
        self.resumed = last is not None
        if once:
            when = self.clock.now().floor("D")
        else:
            start = last if last is not None else self.clock.now() - pd.Timedelta(microseconds=1)
            when = self.next_decision(start)
        # the first bar of the window (data.start / the emulator's start) closes a day later
        when = max(when, pd.Timestamp(self.feed.start, tz="UTC") + pd.Timedelta(days=1))
        delay = pd.Timedelta(seconds=self.run.live.decision_delay_seconds)
        self.bus.emit(ev.Started(self.clock.now(), self.folder, self.run.broker.mode,
                                 self.broker.name, self.run.name, self.quote, self.run.broker.cash,
                                 when, until, self.resumed))
        if once and last is not None and last >= when:
            why = ("already decided in this run; the next bar closes at "
                   f"{iso(self.next_decision(when))}")
            self.bus.emit(ev.Skipped(self.clock.now(), when, why))
            return LoopOutcome(0, f"--once: {why}")
        while not self.stop.is_set():
            if until is not None and when > until:
                last_bar = (until - pd.Timedelta(days=1)).date()
                self.stop_reason = self.stop_reason or f"reached --until {last_bar}"
                break
            if self.kill_file_present():
                self.request_stop(f"kill file {self.run.risk.kill_file}")
                break
            self._announce_wait(when, when + delay)
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
            if once:
                self.stop_reason = self.stop_reason or (
                    "--once" if decided else f"--once: {self.skip_reason}")
                break
            when = self.next_decision(when)
        return LoopOutcome(decisions, self.stop_reason or "stopped")

    def _announce_wait(self, decision: pd.Timestamp, due: pd.Timestamp) -> None:
        now = self.clock.now()
        real = 0.0 if getattr(self.clock, "simulated", False) else (due - now).total_seconds()
        why = ("live.decision_delay_seconds after the close" if due > decision
               else "the next bar close")
        self.bus.emit(ev.Waiting(now, decision, due, max(real, 0.0), why))
