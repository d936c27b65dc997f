"""The strategy interface.

A strategy is a *causal function* from aligned market history to target portfolio weights,
parameterised by a frozen pydantic ``Params`` model. It never imports backtrader or ccxt: the same
code drives the backtest, the dry run and the testnet. Causal means that the weights at a
decision time depend only on bars available at that time; ``tests/`` checks this by truncating
the history at many cut points.

Two ways to ask, one answer:

- :meth:`Strategy.decide` computes the decisions at *every* time of a history (the backtest
  asks once, for the whole history);
- :meth:`Strategy.decide_latest` computes the decision at the *last* time of a history that
  only grows between calls (a live run asks once per bar). It must return exactly what
  ``decide`` returns for that time, bit for bit, at a cost that does not grow with the length of
  the history. The default implementation asks ``decide`` for the trailing :attr:`warmup`
  bars only; a strategy whose decisions depend on unbounded history (an all-time high, a
  regime that persists) leaves ``warmup`` at ``None`` and overrides ``decide_latest`` to carry
  its state forward from the previous call (see :mod:`.rut_breakout_rotation`). Without either,
  each call recomputes the whole history: correct, only slower. ``tests/`` checks the identity
  at every bar of multi-year replays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from papertrade.data.history import MarketHistory
from papertrade.errors import StrategyError
from papertrade.util.text import one_line
from papertrade.util.validation import format_validation_error

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: frozen, unknown keys rejected, numbers finite."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


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


def is_scheduled(label: pd.Timestamp, policy: RebalancePolicy) -> bool:
    """Whether the decision at the close of the bar dated ``label`` is a scheduled rebalance
    (:func:`scheduled_days` for one bar)."""
    if policy.every == "weekly":
        return bool(label.day_of_week == WEEKDAYS.index(policy.weekday))
    return policy.every == "daily"


def checked_decide(strategy: Strategy, history: MarketHistory, *, latest: bool = False
                   ) -> Decisions:
    """``strategy.decide(history)`` (or ``decide_latest``), any exception inside the strategy
    turned into a one-line :class:`StrategyError` naming the strategy and the decision time."""
    try:
        return strategy.decide_latest(history) if latest else strategy.decide(history)
    except Exception as exc:
        when = f"{history.now:%Y-%m-%d %H:%M} UTC" if len(history.clock) else "no bar"
        span = "the decision at" if latest else "the decisions up to"
        raise StrategyError(one_line(
            f"strategy '{strategy.name}' failed computing {span} {when}: "
            f"{type(exc).__name__}: {exc}")) from exc


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

    @property
    def warmup(self) -> int | None:
        """Trailing decision-clock bars the last decision depends on (None: all history).

        With a number ``n``, ``decide(history)`` and ``decide(history.tail(n))`` must agree on
        the last time of ``history``: :meth:`decide_latest` then costs ``O(n)`` per call.
        """
        return None

    def decide_latest(self, history: MarketHistory) -> Decisions:
        """Decisions ending at ``history``'s last time (at least that one row).

        Called by a live run with histories that only grow. Default: :meth:`decide` on the
        trailing :attr:`warmup` bars, or on the whole history when ``warmup`` is None.
        """
        n = self.warmup
        if n is None or len(history.clock) <= n:
            return self.decide(history)
        return self.decide(history.tail(n))
