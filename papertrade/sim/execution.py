"""One run's execution on arrays, with the trading kernel's own functions.

The backtest (``brokers/backtrader_sim.py`` driving :class:`papertrade.trader.Trader`) marks
every bar, applies the rebalance policy to every decision and plans at the next open. Between two
trades the holdings do not change, so this module finds the next decision that trades with array
arithmetic over the rows since the last trade (equity, current weights, drift against the
policy's :func:`~papertrade.rebalance.send_threshold`, the kill switch's
:meth:`~papertrade.risk.KillDrawdown.observe_many`), and plans it with
:func:`~papertrade.rebalance.plan_orders` and :meth:`~papertrade.risk.RiskEngine.apply`
exactly as the kernel does. Fills follow backtrader's arithmetic: the open moved by the
slippage, a fee on the filled notional, sells before buys, a buy the cash cannot pay rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from papertrade.config_models import RunConfig
from papertrade.rebalance import (
    EVENT_DRIFT,
    FillModel,
    plan_orders,
)
from papertrade.risk import RiskEngine
from papertrade.sim.market import MarketArrays
from papertrade.strategies.base import RebalancePolicy
from papertrade.trader import order_id

FILL_COLUMNS = ["time", "date", "symbol", "side", "qty", "price", "notional", "fee",
                "fee_currency", "client_order_id"]
_BLOCK = 64  # rows examined at once when looking for the next trade


@dataclass(frozen=True)
class DecisionArrays:
    """A strategy's decisions under a rebalance policy, as arrays on the clock."""

    weights: np.ndarray  # (rows, symbols)
    events: tuple[str, ...]
    scheduled: np.ndarray  # bool per row
    thresholds: np.ndarray  # send_threshold per row, NaN: never sent (without an event)
    policy: RebalancePolicy

    @property
    def candidates(self) -> np.ndarray:
        """Rows that may be sent (a threshold), ascending."""
        found = self.__dict__.get("_candidates")
        if found is None:
            found = np.flatnonzero(~np.isnan(self.thresholds))
            object.__setattr__(self, "_candidates", found)
        return found


@dataclass
class Execution:
    """What a run did: equity and cash at every mark, the fills, and the kernel's counts."""

    equity: np.ndarray
    cash: np.ndarray
    fills: list[tuple[object, ...]] = field(default_factory=list)
    rebalances: int = 0
    rejected: int = 0
    rail_cuts: int = 0
    kill_switch: str = ""

    def fills_frame(self) -> pd.DataFrame:
        """The fills with ``trades.csv``'s columns."""
        if not self.fills:
            return pd.DataFrame(self.fills, columns=FILL_COLUMNS)
        return pd.DataFrame(dict(zip(FILL_COLUMNS, map(list, zip(*self.fills, strict=True)),
                                     strict=True)))


@dataclass
class _Pending:
    row: int
    targets: dict[str, float]
    flatten: bool


class _Run:
    """The state of one execution; :func:`execute` drives it."""

    def __init__(self, market: MarketArrays, decisions: DecisionArrays, run: RunConfig,
                 run_tag: str) -> None:
        self.m, self.d = market, decisions
        self.fills_model = FillModel.from_bps(run.broker.fee_bps, run.broker.slippage_bps)
        self.risk = RiskEngine.from_config(run.risk)
        self.quote = run.broker.quote
        self.tag = run_tag
        self.cash = float(run.broker.cash)
        self.qty = np.zeros(len(market.symbols))
        self.index = {s: i for i, s in enumerate(market.symbols)}
        self.cost = np.zeros(len(market.symbols))  # average entry price (backtrader's)
        self.catching_up = False
        self.flattened = False
        self.out = Execution(equity=np.empty(market.rows), cash=np.empty(market.rows))
        self._fill_days: list[tuple[int, float]] = []  # (fill time ns, notional)
        self._seen: tuple[int, int, np.ndarray] = (-1, -1, np.empty(0))

    # ------------------------------------------------------------------ marking

    def _equity(self, lo: int, hi: int) -> np.ndarray:
        held = self.qty != 0
        if not held.any():
            return np.full(hi - lo, self.cash)
        return np.asarray(self.cash + (self.qty[held] * self.m.marks[lo:hi, held]).sum(axis=1))

    def _record(self, lo: int, hi: int) -> None:
        first, last, equity = self._seen
        self.out.equity[lo:hi] = (equity[:hi - lo] if first == lo and last >= hi
                                  else self._equity(lo, hi))
        self.out.cash[lo:hi] = self.cash

    # ------------------------------------------------------------------ finding the next trade

    def next_send(self, start: int) -> _Pending | None:
        """The first decision at or after row ``start`` that the kernel sends, the holdings
        being those of now; None when nothing trades any more. Rows before it are marked."""
        rows = self.m.rows
        lo = start
        size = _BLOCK
        while lo < rows:
            hi = min(rows, lo + size)
            size *= 2
            if self.risk.halted:
                return self._flatten_from(lo)
            equity = self._equity(lo, hi)
            self._seen = (lo, hi, equity)  # the marks of these rows, while nothing trades
            send = self._first_send(lo, hi, equity)
            upto = hi if send is None else send + 1
            fired_at = -1
            if self.risk.kill is not None:
                times = self.m.clock[lo:upto]
                fired_at, message = self.risk.kill.observe_many(times, equity[:upto - lo])
                if message:
                    self.out.kill_switch = message
            if fired_at >= 0:
                return self._flatten_from(lo + fired_at)
            if send is not None:
                pending = self._confirm(send)
                if pending is not None:
                    return pending
                lo = send + 1
                continue
            lo = hi
        return None

    def _first_send(self, lo: int, hi: int, equity: np.ndarray) -> int | None:
        """First row in [lo, hi) whose drift exceeds its threshold (catch-up rows included)."""
        if self.catching_up:
            rows = np.arange(lo, hi)
            thresholds: np.ndarray | float = EVENT_DRIFT
        else:
            every = self.d.candidates
            first, last = every.searchsorted((lo, hi))
            rows = every[first:last]
            thresholds = self.d.thresholds[rows]
        if not len(rows):
            return None
        # drift: the largest |target - current| weight, current = held value / equity
        drift_rows = self.d.weights[rows]  # a copy
        held = np.flatnonzero(self.qty)
        if len(held):
            eq = equity[rows - lo]
            value = self.qty[held] * self.m.marks[rows[:, None], held]
            drift_rows[:, held] -= np.where(eq[:, None] > 0, value / np.where(
                eq > 0, eq, 1.0)[:, None], 0.0)
        over = np.abs(drift_rows).max(axis=1) > thresholds
        if self.catching_up:  # a catch-up row without an event of its own at target ends it
            quiet = np.array([not self.d.events[r] for r in rows], dtype=bool)
            at_target = np.flatnonzero(~over & quiet)
            first_over = int(np.argmax(over)) if over.any() else len(over)
            if len(at_target) and at_target[0] < first_over:  # caught up before trading again
                self.catching_up = False
                again = int(rows[at_target[0]]) + 1
                return self._first_send(again, hi, equity[again - lo:]) if again < hi else None
        sent = np.flatnonzero(over)
        return int(rows[sent[0]]) if len(sent) else None

    def _confirm(self, row: int) -> _Pending | None:
        """Trader.decide at ``row``, which the drift test found to be sent; None when it
        cannot be executed (no later bar in the data)."""
        if row >= self.m.rows - 1:
            return None
        self.out.rebalances += 1
        targets = {s: float(w) for s, w in zip(self.m.symbols, self.d.weights[row], strict=True)}
        return _Pending(row, targets, False)

    def _flatten_from(self, row: int) -> _Pending | None:
        """Halted by the kill switch: flatten at ``row`` when something is held."""
        if self.flattened or row >= self.m.rows - 1 or not (self.qty > 0).any():
            return None
        self.flattened = True
        self.out.rebalances += 1
        return _Pending(row, dict.fromkeys(self.m.symbols, 0.0), True)

    # ------------------------------------------------------------------ planning and filling

    def _positions(self) -> dict[str, float]:
        return {s: float(q) for s, q in zip(self.m.symbols, self.qty, strict=True) if q}

    def fill(self, pending: _Pending) -> None:
        """Plan ``pending`` at the next row's open (Trader.plan) and fill it."""
        m, k = self.m, pending.row + 1
        stamp = m.stamps[pending.row]
        opens = m.open_rows[k]
        positions = self._positions()
        if len(opens) < len(m.symbols):  # a wanted symbol without a bar: rejected (no bar)
            self.out.rejected += sum(
                1 for s in set(pending.targets) | set(positions)
                if (pending.targets.get(s, 0.0) > 0 or positions.get(s, 0.0) > 0)
                and s not in opens)
        intents = plan_orders(pending.targets, positions, self.cash, opens, self.fills_model)
        if not pending.flatten:
            equity = self.cash + sum(q * opens[s] for s, q in positions.items() if s in opens)
            intents, notes = self.risk.apply(intents, cash=self.cash, equity=equity,
                                             traded_today=self._traded_since(
                                                 int(m.day_ns[pending.row])),
                                             fills=self.fills_model)
            self.catching_up = bool(notes)
            self.out.rail_cuts += len(notes)
        index = self.index
        fee_rate, when = self.fills_model.fee, m.fill_times[k]
        for leg, intent in enumerate(intents):
            qty = intent.qty
            if qty <= 0 or qty * intent.ref_price < 0:
                continue
            coid = order_id(self.tag, stamp, intent.symbol, leg + (90 if pending.flatten else 0))
            price = self.fills_model.fill_price(intent.side, intent.ref_price)
            fee = abs(qty) * fee_rate * price  # backtrader's percentage commission
            i = index[intent.symbol]
            # backtrader's own arithmetic (BackBroker._execute, Position.update), operation by
            # operation: a dust order is a difference of large numbers, so the last bits count
            held, cost = float(self.qty[i]), float(self.cost[i])
            if intent.side == "sell":
                self.cash += abs(qty) * cost + qty * (price - cost)
                self.cash -= fee
                self.qty[i] = held - qty
                if not self.qty[i]:
                    self.cost[i] = 0.0
            else:
                if self.cash - abs(qty) * price - fee < 0.0:  # margin: not executed
                    self.out.rejected += 1
                    continue
                self.cash -= abs(qty) * price
                self.cash -= fee
                self.qty[i] = held + qty
                self.cost[i] = price if not held else (cost * held + qty * price) / self.qty[i]
            self._fill_days.append((int(m.fill_ns[k]), qty * price))
            self.out.fills.append((when, m.dates[k], intent.symbol, intent.side, qty, price,
                                   qty * price, fee, self.quote, coid))

    def _traded_since(self, day: int) -> float:
        """Quote notional filled since ``day`` (ns): the kernel's ``traded_today``."""
        total = 0.0
        for when, notional in reversed(self._fill_days):
            if when < day:
                break
            total += notional
        return total


def execute(market: MarketArrays, decisions: DecisionArrays, run: RunConfig,
            run_tag: str) -> Execution:
    """Execute ``decisions`` on ``market`` with ``run``'s broker and rails (see module doc)."""
    state = _Run(market, decisions, run, run_tag)
    start = 0
    while start < market.rows:
        pending = state.next_send(start)
        if pending is None:
            state._record(start, market.rows)
            break
        state._record(start, pending.row + 1)
        state.fill(pending)
        start = pending.row + 1
    return state.out
