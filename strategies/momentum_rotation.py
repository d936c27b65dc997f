"""Plain momentum rotation: hold the top-K of a universe by trailing return, or cash.

It reads no index at all, which shows that the strategy interface is not the flagship's shape.
On each scheduled rebalance (``rebalance.every``; ``on_change`` acts like ``weekly`` here) the
``top_k`` symbols with the best ``lookback_days`` return above ``min_return`` are held in equal
weights; when none qualifies the portfolio is in cash.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from papertrade.data.history import MarketHistory
from papertrade.strategies.base import (
    Decisions,
    RebalancePolicy,
    Strategy,
    StrategyParams,
    scheduled_days,
)
from papertrade.strategies.signals import momentum


class MomentumParams(StrategyParams):
    """Parameters of :class:`MomentumRotation`."""

    universe: tuple[str, ...] = Field(min_length=1, description="symbols to choose from")
    lookback_days: int = Field(default=30, ge=1, le=3_660, description="trailing return window")
    top_k: int = Field(default=2, ge=1, le=100, description="symbols held")
    min_return: float = Field(default=0.0, ge=-1, le=100, description="absolute momentum filter")
    invest: float = Field(default=1.0, gt=0, le=1, description="share of equity in the market")
    rebalance: RebalancePolicy = Field(
        default_factory=lambda: RebalancePolicy(every="weekly", weekday="sun")
    )


class MomentumRotation(Strategy):
    """Top-K trailing-return rotation with an absolute momentum filter."""

    name: ClassVar[str] = "momentum_rotation"
    Params: ClassVar[type[StrategyParams]] = MomentumParams
    params: MomentumParams

    def traded_symbols(self) -> list[str]:
        return list(self.params.universe)

    def benchmark_symbols(self) -> list[str]:
        return [self.params.universe[0]]

    @property
    def warmup(self) -> int:
        """A decision depends on the momentum window before the last two rebalance days."""
        return self.params.lookback_days + 15

    def decide(self, history: MarketHistory) -> Decisions:
        p = self.params
        closes = history.closes(self.traded_symbols())
        mom = momentum(closes, p.lookback_days)
        policy = p.rebalance if p.rebalance.every != "on_change" else RebalancePolicy(
            every="weekly", weekday=p.rebalance.weekday, drift=p.rebalance.drift
        )
        scheduled = scheduled_days(history, policy)
        weights = np.zeros(closes.shape)
        events = np.full(len(closes), "", dtype=object)
        reasons = np.full(len(closes), "", dtype=object)
        held: list[str] = []
        for k in range(len(closes)):
            dead = [s for s in held if np.isnan(closes[s].iat[k])]
            if scheduled[k] or dead or k == 0:
                row = mom.iloc[k].dropna()
                row = row[row > p.min_return].sort_values(ascending=False, kind="stable")
                picked = list(row.index[: p.top_k])
                if picked != held:
                    events[k] = "reselect"
                held = picked
                shown = ", ".join(f"{s} {row[s]:+.1%}" for s in picked) or "none qualifies"
                reasons[k] = f"top {p.top_k} by {p.lookback_days}-day return: {shown}"
            else:
                reasons[k] = f"hold {', '.join(held) or 'cash'} until the next rebalance"
            for s in held:
                weights[k, closes.columns.get_loc(s)] = p.invest / len(held)
        inputs = mom.add_suffix("_momentum")
        return Decisions(
            weights=pd.DataFrame(weights, index=closes.index, columns=closes.columns),
            events=pd.Series(events, index=closes.index, dtype=object),
            reasons=pd.Series(reasons, index=closes.index, dtype=object),
            inputs=inputs,
        )
