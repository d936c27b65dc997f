"""Risk rails: trading controls applied identically in every mode by the kernel.

In the spirit of nautilus_trader's ``RiskEngine`` and zipline's ``TradingControl``: each rail is
a small object, and :class:`RiskEngine` applies all of them to every order plan and every
mark, whatever the mode (backtest, sweep simulator, dry run, emulator, testnet).

- :class:`MaxOrderNotional` (``risk.max_order_notional``): an order worth more than the cap at
  its worst-case fill price is **clipped** to the cap. The remainder is deferred: the kernel
  re-plans towards the same targets at the next decision until they are met.
- :class:`MaxDailyTurnover` (``risk.max_daily_turnover``): the notional traded per UTC day stays
  within that multiple of equity; orders beyond the day's budget are cut (sells first, as
  planned) and the rest is **deferred** to the next decisions.
- :class:`KillDrawdown` (``risk.kill_drawdown``): at the first mark more than that fraction
  below the peak equity, the portfolio is flattened to the quote currency (not cut by the
  other rails: the kill switch has to get out completely) and trading stops for the rest of
  the run. A live run then stops (exit code 6); a backtest carries on marking its cash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from papertrade.config_models import RiskConfig
from papertrade.rebalance import FillModel, OrderIntent, fit_buys_to_cash


@dataclass(frozen=True)
class RailNote:
    """What a rail did to a plan (journalled as an event of kind ``rail``)."""

    rail: str
    message: str


@dataclass(frozen=True)
class MaxOrderNotional:
    """No order worth more than ``cap`` quote units, at its reference price or at its
    fill price under the fill model's slippage, whichever is higher."""

    cap: float

    def apply(self, intent: OrderIntent, fills: FillModel) -> tuple[OrderIntent, RailNote | None]:
        """``intent`` clipped to the cap, and a note when it was."""
        worst = max(intent.ref_price, fills.fill_price(intent.side, intent.ref_price))
        if intent.qty * worst <= self.cap:
            return intent, None
        clipped = OrderIntent(intent.symbol, intent.side, self.cap / worst, intent.ref_price)
        note = RailNote("max_order_notional",
                        f"{intent.side} {intent.symbol} clipped from {intent.qty * worst:,.2f} "
                        f"to {self.cap:,.2f} (risk.max_order_notional); the rest is deferred")
        return clipped, note


@dataclass(frozen=True)
class MaxDailyTurnover:
    """Traded notional per UTC day at most ``limit`` × equity."""

    limit: float

    def budget(self, equity: float, traded_today: float) -> float:
        """Quote notional still allowed today."""
        return max(self.limit * equity - traded_today, 0.0)


@dataclass
class KillDrawdown:
    """Fires once, at the first mark ``limit`` or more below the running peak of equity."""

    limit: float
    peak: float = -math.inf
    fired: str = ""

    def observe(self, time: pd.Timestamp, equity: float) -> str:
        """Track the peak; the firing message the first time the drawdown is breached."""
        return self.observe_many([time], np.array([equity]))[1]

    def observe_many(self, times: Sequence[pd.Timestamp], equities: np.ndarray
                     ) -> tuple[int, str]:
        """:meth:`observe` of consecutive marks at once: the position of the mark that fires
        (-1: none) and its message. Marks after the one that fires are not observed."""
        if self.fired or not len(equities):
            if len(equities):
                self.peak = max(self.peak, float(np.max(equities)))
            return -1, ""
        peaks = np.maximum.accumulate(np.maximum(equities, self.peak))
        breached = (peaks > 0) & ~(equities >= peaks * (1 - self.limit))
        if not breached.any():
            self.peak = float(peaks[-1])
            return -1, ""
        at = int(np.argmax(breached))
        self.peak = float(peaks[at])
        return at, self._fire(times[at], float(equities[at]))

    def _fire(self, time: pd.Timestamp, equity: float) -> str:
        drawdown = equity / self.peak - 1
        self.fired = (f"kill switch fired {time:%Y-%m-%d} at {drawdown:.1%} "
                      f"(risk.kill_drawdown -{self.limit:.1%}): "
                      "flattening to cash, no more trading")
        return self.fired


@dataclass
class RiskEngine:
    """Every configured rail, applied to every plan and every mark by the kernel."""

    max_order: MaxOrderNotional | None = None
    turnover: MaxDailyTurnover | None = None
    kill: KillDrawdown | None = None

    @classmethod
    def from_config(cls, risk: RiskConfig) -> RiskEngine:
        """The rails ``risk:`` enables."""
        return cls(
            max_order=MaxOrderNotional(risk.max_order_notional)
            if risk.max_order_notional is not None else None,
            turnover=MaxDailyTurnover(risk.max_daily_turnover)
            if risk.max_daily_turnover is not None else None,
            kill=KillDrawdown(risk.kill_drawdown) if risk.kill_drawdown is not None else None,
        )

    @property
    def halted(self) -> bool:
        """True once the kill switch fired: no more trading in this run."""
        return bool(self.kill and self.kill.fired)

    def on_mark(self, time: pd.Timestamp, equity: float) -> str:
        """Feed a mark to the drawdown rail; its message when it fires now."""
        return self.kill.observe(time, equity) if self.kill else ""

    def restore(self, peak: float | None, fired: str) -> None:
        """State of a resumed run: the peak marked so far and whether the switch fired."""
        if self.kill:
            self.kill.peak = peak if peak is not None else -math.inf
            self.kill.fired = fired

    def apply(self, intents: Sequence[OrderIntent], *, cash: float, equity: float,
              traded_today: float, fills: FillModel) -> tuple[list[OrderIntent], list[RailNote]]:
        """The plan the rails allow: each order clipped to the notional cap, then the day's
        turnover budget spent in plan order (sells first); buys refitted to the cash the
        allowed sells raise. Returns the orders and what each rail did."""
        notes: list[RailNote] = []
        kept: list[OrderIntent] = []
        budget = self.turnover.budget(equity, traded_today) if self.turnover else math.inf
        for intent in intents:
            if self.max_order:
                intent, note = self.max_order.apply(intent, fills)
                if note:
                    notes.append(note)
            worst = fills.fill_price(intent.side, intent.ref_price)
            if intent.qty * worst > budget:
                allowed = budget / worst
                notes.append(RailNote(
                    "max_daily_turnover",
                    f"{intent.side} {intent.symbol} cut from {intent.qty * worst:,.2f} to "
                    f"{allowed * worst:,.2f}: the day's turnover budget "
                    f"(risk.max_daily_turnover) is spent; the rest is deferred"))
                intent = OrderIntent(intent.symbol, intent.side, allowed, intent.ref_price)
            budget -= intent.qty * worst
            if intent.qty > 0:
                kept.append(intent)
        sells = [o for o in kept if o.side == "sell"]
        buys = fit_buys_to_cash(sells, [o for o in kept if o.side == "buy"], cash, fills)
        return sells + buys, notes
