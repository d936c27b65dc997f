"""The seeded random grids the simulator is verified on (flagship and momentum_rotation)."""

from __future__ import annotations

import datetime as dt
import os
import random
from typing import Any

from tests.conftest import CONFIGS

SEED = int(os.environ.get("PAPERTRADE_SIM_SEED", "20261130"))
FLAGSHIP = CONFIGS / "rut_breakout_rotation.yaml"
MOMENTUM = CONFIGS / "momentum_rotation.yaml"
RTOL = 1e-9

# windows with breakouts, failures, rotations and drawdowns in the bundled data
SHORT = [(dt.date(2017, 9, 1), dt.date(2018, 8, 31)), (dt.date(2020, 3, 1), dt.date(2021, 2, 28)),
         (dt.date(2021, 1, 1), dt.date(2021, 12, 31)), (dt.date(2024, 3, 1), dt.date(2025, 2, 28))]

BROKER_RISK: dict[str, list[Any]] = {
    "broker.fee_bps": [0, 10, 25.5],
    "broker.slippage_bps": [0, 5, 30],
    "risk.max_order_notional": [None, None, 2500, 7000],
    "risk.max_daily_turnover": [None, None, 0.6, 1.5],
    "risk.kill_drawdown": [None, None, 0.15, 0.3],
}
REBALANCE: dict[str, list[Any]] = {
    "strategy.params.rebalance.every": ["daily", "weekly", "on_change"],
    "strategy.params.rebalance.weekday": ["mon", "sun", "wed"],
    "strategy.params.rebalance.drift": [0.0, 0.02, 0.05, 0.2],
}
FLAGSHIP_GRID: dict[str, list[Any]] = {
    "strategy.params.breakout.lookback": ["all", 20, 60, 250],
    "strategy.params.breakout.confirm": ["daily", "weekly", "monthly"],
    "strategy.params.breakout.min_drought": [0, 0, 5, 30],
    "strategy.params.exit.below_level_pct": [None, 2.0, 5.0, 10.0],
    "strategy.params.exit.ma_days": [None, 20, 50, 100],
    "strategy.params.exit.require": ["any", "all"],
    "strategy.params.exit.min_hold_days": [0, 0, 7, 30],
    "strategy.params.rotation.trigger": ["never", "days_since_entry", "btc_new_high",
                                         "alts_outperform"],
    "strategy.params.rotation.trigger_days": [5, 14, 30],
    "strategy.params.rotation.share": [0.0, 0.3, 0.5, 1.0],
    "strategy.params.rotation.top_k": [1, 2, 3, 5],
    "strategy.params.rotation.momentum_days": [7, 30, 60],
    "strategy.params.invest": [1.0, 0.8],
    **REBALANCE, **BROKER_RISK,
}
MOMENTUM_GRID: dict[str, list[Any]] = {
    "strategy.params.lookback_days": [7, 30, 90],
    "strategy.params.top_k": [1, 2, 3],
    "strategy.params.min_return": [-0.1, 0.0, 0.1],
    "strategy.params.invest": [1.0, 0.9],
    **REBALANCE, **BROKER_RISK,
}


def draw(rng: random.Random, grid: dict[str, list[Any]]) -> dict[str, Any]:
    """One random point of ``grid`` (two disabled exits are refused by the params)."""
    values = {key: rng.choice(options) for key, options in grid.items()}
    if values.get("strategy.params.exit.below_level_pct", 0) is None and values.get(
            "strategy.params.exit.ma_days", 0) is None:
        values["strategy.params.exit.ma_days"] = 50  # the params refuse two disabled exits
    return values


