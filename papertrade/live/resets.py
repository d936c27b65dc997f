"""Capital that moves without a trade: testnet resets (and transfers), detected and carried.

Binance's spot testnet is wiped about monthly without notice: open orders disappear and the
balances are refilled to the venue's defaults. To the run this looks like a crash or a huge
profit or loss. :class:`CapitalWatch` keeps, in the journal's meta, the balances of the quote
and traded assets the run saw at its last decision and the last fill journalled then. At each
decision it expects those balances moved by the fills journalled since (quantity, notional and
fees in either asset); a difference worth at least ``live.reset.min_change`` of equity is a
**capital event**, valued at the current prices:

- ``reset`` when no ``live.reset.refill`` is configured, or the balances landed on it (each
  refilled asset within 1 %); journalled open orders that vanished are named in the detail;
- ``transfer`` otherwise (a deposit or withdrawal made by hand).

The event goes to the journal's ``capital_events`` table (not a trade) and as a warning event.
The portfolio is then rebuilt from the new balances: when the strategy's decision at that
time trades anyway (a scheduled rebalance, an event), towards its targets; otherwise towards
the composition the account held before the wipe (the strategy's current position, with the
drift its rebalance policy tolerates), so the run carries on exactly as the backtest does.
The drawdown kill switch's peak is rescaled by the same factor as the equity, so the rail
measures the time-weighted curve that the exports show
(:func:`papertrade.metrics.time_weighted_equity`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from loguru import logger

from papertrade.config_models import ResetConfig
from papertrade.journal import Journal, iso
from papertrade.metrics import time_weighted_equity
from papertrade.risk import RiskEngine
from papertrade.trader import base_asset

SNAPSHOT_KEY = "balances_seen"
_REFILL_TOLERANCE = 0.01
_SAME = 1e-6  # relative difference of a balance the fills explain (float and fee rounding)


class CapitalWatch:
    """Detects capital events between decisions (see the module docstring)."""

    def __init__(self, journal: Journal, config: ResetConfig, quote: str, traded: list[str],
                 prices: Callable[[list[str]], dict[str, float]]) -> None:
        self.journal = journal
        self.config = config
        self.quote = quote
        self.traded = traded
        self.prices = prices
        self.last: tuple[str, float, float, float] | None = None  # kind, flow, before, after

    # ------------------------------------------------------------------ the journal's view

    def _snapshot(self) -> dict[str, Any] | None:
        rows = self.journal.rows("SELECT value FROM meta WHERE key = ?", (SNAPSHOT_KEY,))
        return json.loads(rows[0]["value"]) if rows else None

    def _save(self, time: pd.Timestamp, balances: Mapping[str, float]) -> None:
        fill_id = self.journal.rows("SELECT COALESCE(MAX(id), 0) AS n FROM fills")[0]["n"]
        self.journal.set_meta({SNAPSHOT_KEY: {"time": iso(time), "fill_id": int(fill_id),
                                              "balances": dict(balances)}})

    def expected(self, snapshot: Mapping[str, Any]) -> dict[str, float]:
        """The snapshot's balances moved by every fill journalled after it."""
        balances = {str(a): float(q) for a, q in snapshot["balances"].items()}
        for row in self.journal.rows(
                "SELECT symbol, side, qty, price, fee, fee_currency FROM fills WHERE id > ? "
                "ORDER BY id", (int(snapshot["fill_id"]),)):
            base, sign = base_asset(row["symbol"]), 1.0 if row["side"] == "buy" else -1.0
            balances[base] = balances.get(base, 0.0) + sign * row["qty"]
            balances[self.quote] = balances.get(self.quote, 0.0) - sign * row["qty"] * row["price"]
            currency = row["fee_currency"] or self.quote
            balances[currency] = balances.get(currency, 0.0) - row["fee"]
        return balances

    # ------------------------------------------------------------------ at each decision

    def check(self, time: pd.Timestamp, cash: float, positions: Mapping[str, float],
              risk: RiskEngine | None = None) -> dict[str, float] | None:
        """Compare the balances now with the journal's expectation; journal a capital event
        when they differ by ``min_change`` of equity or more (and rescale ``risk``'s drawdown
        peak with the equity). Returns, after an event, the weights the account held before
        it (to rebuild), else None."""
        now = {self.quote: cash, **{base_asset(s): q for s, q in positions.items()}}
        snapshot = self._snapshot()
        if snapshot is None or not self.config.detect:
            self._save(time, now)
            return None
        expected = self.expected(snapshot)
        assets = [self.quote, *(base_asset(s) for s in self.traded)]
        delta = {a: now.get(a, 0.0) - expected.get(a, 0.0) for a in assets}
        if all(abs(d) <= _SAME * max(abs(now.get(a, 0.0)), abs(expected.get(a, 0.0)), 1.0)
               for a, d in delta.items()):  # explained by the fills: no price needed
            self._save(time, now)
            return None
        moved = [s for s in self.traded if abs(delta[base_asset(s)]) > 1e-12]
        held = [s for s in self.traded if positions.get(s, 0.0) > 0 or s in moved]
        prices = self.prices(held) if held else {}
        flow = delta[self.quote] + sum(delta[base_asset(s)] * prices[s] for s in moved)
        after = cash + sum(q * prices[s] for s, q in positions.items() if q > 0)
        before = after - flow
        if abs(flow) < self.config.min_change * max(abs(before), abs(after), 1e-12):
            self._save(time, now)
            return None
        kind = "reset" if self._refilled(now) else "transfer"
        weights = {s: expected.get(base_asset(s), 0.0) * prices[s] / before for s in self.traded
                   if s in prices and expected.get(base_asset(s), 0.0) > 0} if before > 0 else {}
        vanished = self._vanished_orders()
        detail = {"expected": {a: expected.get(a, 0.0) for a in assets},
                  "balances": {a: now.get(a, 0.0) for a in assets},
                  "prices": prices, "vanished_orders": vanished, "rebuild_weights": weights}
        self.journal.capital_event(time, kind, flow, before, after, detail)
        self.last = (kind, flow, before, after)
        what = "testnet reset" if kind == "reset" else "transfer"
        message = (f"{what} detected: balances moved by {flow:+,.2f} {self.quote} without a "
                   f"trade (equity {before:,.2f} -> {after:,.2f}); journalled as a capital "
                   "event, returns continued time-weighted; rebuilding the portfolio"
                   + (f"; {len(vanished)} open orders vanished" if vanished else ""))
        logger.warning(message)
        self.journal.event(time, "warning", "capital", message)
        if risk is not None and risk.kill is not None and before > 0:
            risk.kill.peak *= after / before
        self._save(time, now)
        self.journal.commit()
        return weights

    def _refilled(self, balances: Mapping[str, float]) -> bool:
        refill = self.config.refill
        if refill is None:
            return True
        return all(abs(balances.get(a, 0.0) - v) <= _REFILL_TOLERANCE * max(abs(v), 1e-12)
                   for a, v in refill.items())

    def _vanished_orders(self) -> list[str]:
        """Client ids of orders the journal holds open (the exchange no longer does: a reset
        wipes them; an order we track as open would show in the balances otherwise)."""
        rows = self.journal.rows("SELECT client_order_id FROM orders WHERE status IN "
                                 "('open', 'partially_filled')")
        return [str(r["client_order_id"]) for r in rows]

    # ------------------------------------------------------------------ the kill switch

    def rescale_peak(self, risk: RiskEngine) -> None:
        """Put the drawdown rail's peak on the time-weighted curve (after a resume, or after a
        capital event): the peak the curve reached, in today's account size."""
        if risk.kill is None:
            return
        rows = self.journal.rows("SELECT time, equity FROM equity ORDER BY time")
        if not rows:
            return
        equity = pd.Series([r["equity"] for r in rows], index=[r["time"] for r in rows])
        flows = self.journal.capital_flows(by="time")
        if flows.empty:
            return
        curve = time_weighted_equity(equity, flows)
        risk.kill.peak = float(equity.iloc[-1] * curve.max() / curve.iloc[-1])
