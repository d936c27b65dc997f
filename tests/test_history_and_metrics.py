"""Availability times, as-of alignment and the pure metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papertrade.data.bars import available_at
from papertrade.metrics import equity_metrics, max_drawdown_duration_days, round_trips
from papertrade.rebalance import FillModel, plan_orders, should_send
from papertrade.strategies.base import RebalancePolicy


def test_us_close_is_16h_new_york_in_both_seasons() -> None:
    days = pd.DatetimeIndex(["2025-01-10", "2025-07-11", "2025-03-07", "2025-03-10"])
    got = available_at(days, "us_equity")
    assert [t.strftime("%m-%d %H:%M") for t in got] == [
        "01-10 21:00", "07-11 20:00", "03-07 21:00", "03-10 20:00"]  # DST from 03-09


def test_crypto_bar_is_available_at_the_next_utc_midnight() -> None:
    got = available_at(pd.DatetimeIndex(["2024-02-29"]), "crypto")
    assert got[0] == pd.Timestamp("2024-03-01 00:00", tz="UTC")


def test_equity_metrics_on_a_known_curve() -> None:
    index = pd.date_range("2020-01-01", periods=5, freq="D", tz="UTC")
    equity = pd.Series([100.0, 110.0, 99.0, 121.0, 121.0], index=index)
    stats = equity_metrics(equity, periods_per_year=365, min_days=0)
    assert stats["total_return"] == pytest.approx(0.21)
    assert stats["max_drawdown"] == pytest.approx(99 / 110 - 1)
    returns = equity.pct_change().dropna()
    assert stats["sharpe"] == pytest.approx(returns.mean() / returns.std() * np.sqrt(365))
    assert max_drawdown_duration_days(equity) == 2


def test_round_trips_net_fees() -> None:
    fills = pd.DataFrame({
        "symbol": ["A", "A", "A", "B", "B"],
        "side": ["buy", "buy", "sell", "buy", "sell"],
        "qty": [1.0, 1.0, 2.0, 1.0, 1.0],
        "price": [10.0, 12.0, 13.0, 5.0, 4.0],
        "fee": [0.1, 0.1, 0.2, 0.0, 0.0],
    })
    trips = round_trips(fills).set_index("symbol")["pnl"]
    assert trips["A"] == pytest.approx(26 - 22 - 0.4)
    assert trips["B"] == pytest.approx(-1.0)


def test_plan_sells_first_and_never_overdraws_cash() -> None:
    fills = FillModel.from_bps(10, 5)
    orders = plan_orders({"BTC": 0.5, "ETH": 0.5}, {"ETH": 10.0, "SOL": 3.0}, 100.0,
                         {"BTC": 40_000.0, "ETH": 2_000.0, "SOL": 100.0}, fills)
    assert [o.side for o in orders] == ["sell", "sell", "buy"]
    cash = 100.0
    for o in orders:
        px = fills.fill_price(o.side, o.ref_price)
        cash += (-1 if o.side == "buy" else 1) * o.qty * px - fills.fee_for(o.qty * px)
    assert cash >= 0
    assert next(o for o in orders if o.symbol == "SOL").qty == 3.0  # closed completely


def test_rebalance_policy() -> None:
    daily = RebalancePolicy(every="daily", drift=0.05)
    assert should_send({"A": 0.5}, {"A": 0.52}, event="", scheduled=True, policy=daily)[0] is False
    assert should_send({"A": 0.5}, {"A": 0.4}, event="", scheduled=True, policy=daily)[0] is True
    on_change = RebalancePolicy(every="on_change")
    held = should_send({"A": 0.5}, {"A": 0.0}, event="", scheduled=False, policy=on_change)
    assert held[0] is False
    assert should_send({"A": 0.0}, {"A": 0.9}, event="exit", scheduled=False, policy=on_change)[0]
