"""The strategy interface.

A strategy is a *causal function* from aligned market history to target portfolio weights,
parameterised by a frozen pydantic ``Params`` model. It never imports backtrader or ccxt: the same
code drives the backtest, the dry run and the testnet. Causal means that the weights at a
decision time depend only on bars available at that time; ``tests/`` checks this by truncating
the history at many cut points.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from papertrade.data.history import MarketHistory
from papertrade.util.validation import format_validation_error

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RebalancePolicy(StrategyParams):
    """When target weights are sent to the broker.

    A strategy *event* (entry, exit, rotation) is always sent at once. Otherwise the targets
    are considered ``daily``, ``weekly`` (on ``weekday``'s decision) or only on events
    (``on_change``), and sent when some weight is more than ``drift`` away from the portfolio's
    current weight.
    """

    every: Literal["daily", "weekly", "on_change"] = Field(
        default="on_change", description="when to consider drifted targets between events"
    )
    weekday: Weekday = Field(
        default="mon", description="bar weekday of the weekly rebalance (every: weekly)"
    )
    drift: float = Field(
        default=0.05, ge=0, le=1,
        description="absolute weight difference below which nothing trades",
    )


WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def scheduled_days(history: MarketHistory, policy: RebalancePolicy) -> np.ndarray:
    """Which decision times are scheduled rebalances, by the weekday of the deciding bar."""
    n = len(history.clock)
    if policy.every == "daily":
        return np.ones(n, dtype=bool)
    if policy.every == "weekly":
        return np.asarray(history.labels().day_of_week == WEEKDAYS.index(policy.weekday))
    return np.zeros(n, dtype=bool)


@dataclass(frozen=True)
class Decisions:
    """What a strategy decided at every decision time of a history.

    ``weights``: index = decision times, columns = traded symbols, values in [0, 1] summing to
    at most 1 (the rest is cash). ``events``: a non-empty string where the strategy changed
    regime (sent at once, whatever the rebalance schedule). ``reasons``: one human sentence per
    decision. ``inputs``: the numbers that drove each decision (journalled; ``signals.csv``).
    """

    weights: pd.DataFrame
    events: pd.Series
    reasons: pd.Series
    inputs: pd.DataFrame


class Strategy(ABC):
    """Subclass, set ``name`` and ``Params`` (a StrategyParams model), implement :meth:`decide`."""

    name: ClassVar[str]
    Params: ClassVar[type[StrategyParams]]

    def __init__(self, params: StrategyParams) -> None:
        self.params = params

    @classmethod
    def parse_params(cls, raw: dict[str, Any], file: str = "<config>") -> StrategyParams:
        """Validate ``strategy.params``; errors name the key under ``strategy.params``."""
        try:
            return cls.Params.model_validate(raw)
        except ValidationError as exc:
            raise format_validation_error(exc, file, cls.Params, prefix="strategy.params") from None

    @classmethod
    def from_raw(cls, raw: dict[str, Any], file: str = "<config>") -> Strategy:
        """Build the strategy from raw config params."""
        return cls(cls.parse_params(raw, file))

    @property
    def rebalance(self) -> RebalancePolicy:
        """The rebalance policy (every strategy's params have one, default on_change)."""
        policy = getattr(self.params, "rebalance", None)
        return policy if isinstance(policy, RebalancePolicy) else RebalancePolicy()

    @abstractmethod
    def symbol_keys(self) -> dict[str, str]:
        """Every symbol the strategy reads, keyed by its config path (for error messages).

        e.g. ``{"strategy.params.signal": "RUT", "strategy.params.alts[0]": "ETH/USDT"}``.
        """

    @abstractmethod
    def traded_symbols(self) -> list[str]:
        """The symbols that may receive a weight (columns of the weights frame)."""

    @abstractmethod
    def decide(self, history: MarketHistory) -> Decisions:
        """Target weights at every decision time of ``history``, using only past bars."""

    def benchmark_symbols(self) -> list[str]:
        """Symbols whose buy-and-hold is reported beside the strategy (default: none)."""
        return []
