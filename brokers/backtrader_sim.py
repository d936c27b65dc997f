"""Backtest execution of precomputed target weights through backtrader.

One feed per traded asset. At each bar's close the trading kernel (:class:`Trader`) marks the
portfolio and applies the rebalance policy and the risk rails to the strategy's decision; at the
next bar's open (backtrader's cheat-on-open) the kernel sizes the pending decision from the
equity at that open and this module submits its planned orders, sells before buys, with
fractional sizes, percentage fees and slippage. Nothing of the kernel is re-implemented here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from papertrade.brokers.base import ExecutionReport
from papertrade.journal import Journal
from papertrade.strategies.base import Decisions
from papertrade.trader import DecisionRow, Trader


class FractionalPercentCommission(bt.CommInfoBase):  # type: ignore[misc]
    """Stock-like percentage commission whose sizer returns fractional sizes.

    backtrader's default ``getsize`` returns ``int(cash // price)``, so $10k buys no BTC at $40k.
    """

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_PERC), ("percabs", True))

    def getsize(self, price: float, cash: float) -> float:
        return float(self.p.leverage * cash / price)


@dataclass
class ExecutionPlan:
    """What the backtrader strategy needs, precomputed outside backtrader."""

    decisions: Decisions
    scheduled: np.ndarray
    label_to_time: dict[dt.date, pd.Timestamp]
    trader: Trader
    journal: Journal
    quote: str
    last_time: pd.Timestamp
    report: ExecutionReport = field(default_factory=ExecutionReport)


class _TargetWeightsExecutor(bt.Strategy):  # type: ignore[misc]
    params = (("plan", None),)

    def __init__(self) -> None:
        self.plan: ExecutionPlan = self.p.plan
        self.by_name = {d._name: d for d in self.datas}
        d = self.plan.decisions
        self.row_of = {t: i for i, t in enumerate(d.weights.index)}
        # plain Python rows: next() runs once per bar and pandas row access would dominate
        self.symbols = [str(c) for c in d.weights.columns]
        self.weight_rows = d.weights.to_numpy().tolist()
        self.event_rows = [str(e) for e in d.events]
        self.reason_rows = [str(r) for r in d.reasons]
        self.input_rows = [{str(k): v for k, v in row.items() if not pd.isna(v)}
                           for row in d.inputs.to_dict("records")]
        self.legs: dict[int, str] = {}

    # an asset listed after the start must not delay the strategy: run from the first bar
    def prenext(self) -> None:
        self.next()

    def prenext_open(self) -> None:
        self.next_open()

    def _live(self) -> dict[str, Any]:
        """Feeds that have a bar at the current time (a feed with len 0 shows its LAST value).

        In ``next_open`` the strategy's own clock still shows the previous bar while the feeds
        have advanced, so "now" is the latest feed time.
        """
        started = {n: d for n, d in self.by_name.items() if len(d)}
        if not started:
            return {}
        now = max(d.datetime.datetime(0) for d in started.values())
        return {n: d for n, d in started.items() if d.datetime.datetime(0) == now}

    def _positions(self) -> dict[str, float]:
        return {n: self.getposition(d).size for n, d in self.by_name.items()
                if self.getposition(d).size}

    def _marks(self, field_name: str) -> dict[str, float]:
        return {n: float(getattr(d, field_name)[0]) for n, d in self.by_name.items() if len(d)}

    def next(self) -> None:
        plan = self.plan
        label = self.datetime.date(0)
        time = plan.label_to_time.get(label)
        if time is None:
            return
        closes = self._marks("close")
        positions = self._positions()
        cash = float(self.broker.getcash())
        date = label.isoformat()
        plan.trader.mark(time, date, cash, positions, closes)
        row = self.row_of.get(time)
        if row is None:
            return
        decision = DecisionRow(
            time=time, label=date, targets=dict(zip(self.symbols, self.weight_rows[row],
                                                    strict=True)),
            event=self.event_rows[row], reason=self.reason_rows[row],
            inputs=self.input_rows[row], scheduled=bool(plan.scheduled[row]))
        plan.trader.decide(decision, cash, positions, closes, executable=time < plan.last_time)

    def next_open(self) -> None:
        pending = self.plan.trader.pending
        if pending is None:
            return
        decided_at = pending.time
        live = self._live()
        opens = {n: float(d.open[0]) for n, d in live.items()}
        positions = self._positions()
        for symbol in sorted(set(pending.targets) | set(positions)):
            wanted = pending.targets.get(symbol, 0.0) > 0 or positions.get(symbol, 0.0) > 0
            if wanted and symbol not in opens:
                reason = "no bar to trade at this open"
                self.plan.journal.order(
                    f"bt-{decided_at:%Y%m%d}-{symbol.replace('/', '')}-nobar",
                    decision_time=decided_at, time=decided_at, symbol=symbol,
                    side="sell" if positions.get(symbol, 0.0) > 0 else "buy",
                    qty=0.0, ref_price=None, status="rejected", reason=reason)
                self.plan.journal.event(decided_at, "warning", "rejection", f"{symbol}: {reason}")
        for order in self.plan.trader.plan(float(self.broker.getcash()), positions, opens):
            submit = self.sell if order.side == "sell" else self.buy
            placed = submit(data=live[order.symbol], size=order.qty, exectype=bt.Order.Market)
            self.legs[placed.ref] = order.client_order_id
            self.plan.journal.order(
                order.client_order_id, decision_time=decided_at, time=decided_at,
                symbol=order.symbol, side=order.side, qty=order.qty, ref_price=order.ref_price,
                status="submitted")

    def notify_order(self, order: Any) -> None:
        coid = self.legs.get(order.ref)
        if coid is None or order.status in (order.Submitted, order.Accepted):
            return
        plan = self.plan
        name = order.data._name
        side = "buy" if order.isbuy() else "sell"
        when = pd.Timestamp(bt.num2date(order.executed.dt or order.created.dt)).tz_localize("UTC")
        if order.status == order.Completed:
            qty, price = abs(float(order.executed.size)), float(order.executed.price)
            fee = float(order.executed.comm)
            plan.journal.fill(coid, time=when, symbol=name, side=side, qty=qty, price=price,
                              fee=fee, fee_currency=plan.quote)
            plan.journal.order(coid, decision_time=None, time=when, symbol=name, side=side,
                               qty=qty, ref_price=None, status="filled")
        else:
            status = order.getstatusname().lower()
            plan.journal.order(coid, decision_time=None, time=when, symbol=name, side=side,
                               qty=abs(float(order.created.size)), ref_price=None,
                               status="rejected", reason=status)
            plan.journal.event(when, "warning", "rejection",
                               f"{side} {abs(order.created.size):.8g} {name}: {status}")


class ArrayFeed(bt.feed.DataBase):  # type: ignore[misc]
    """Daily bars from plain lists: about twice as fast as ``PandasData``, whose ``_load``
    reads every cell through ``.iloc``. ``dataname`` is a bars frame with a ``date`` column."""

    def start(self) -> None:
        super().start()
        frame = self.p.dataname
        stamps = [bt.date2num(d.to_pydatetime()) for d in pd.DatetimeIndex(frame["date"])]
        columns = [frame[c].astype(float).tolist() for c in ("open", "high", "low", "close",
                                                              "volume")]
        self._rows = list(zip(stamps, *columns, strict=True))
        self._next_row = 0

    def _load(self) -> bool:
        if self._next_row >= len(self._rows):
            return False
        stamp, open_, high, low, close, volume = self._rows[self._next_row]
        self._next_row += 1
        lines = self.lines
        lines.datetime[0], lines.open[0], lines.high[0] = stamp, open_, high
        lines.low[0], lines.close[0], lines.volume[0] = low, close, volume
        lines.openinterest[0] = 0.0
        return True


def run_backtrader(
    feeds: dict[str, pd.DataFrame], plan: ExecutionPlan, cash: float
) -> ExecutionReport:
    """Run backtrader over ``feeds`` (symbol -> native bars with a ``date`` column)."""
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True, preload=True, runonce=False)
    cerebro.broker.setcash(cash)
    cerebro.broker.set_coc(False)
    cerebro.broker.set_coo(True)
    # Our sizing guarantees cash >= 0; backtrader's pre-submit check would price buys at the
    # bar's *close* (known only later) and reject orders sized at the open.
    cerebro.broker.set_checksubmit(False)
    cerebro.broker.set_slippage_perc(
        plan.trader.fills.slippage, slip_open=True, slip_limit=True, slip_match=True, slip_out=True
    )
    cerebro.broker.addcommissioninfo(FractionalPercentCommission(commission=plan.trader.fills.fee))
    for name, bars in feeds.items():
        cerebro.adddata(ArrayFeed(dataname=bars), name=name)
    cerebro.addstrategy(_TargetWeightsExecutor, plan=plan)
    cerebro.run()
    plan.report.final_cash = float(cerebro.broker.getcash())
    plan.report.final_value = float(cerebro.broker.getvalue())
    return plan.report
