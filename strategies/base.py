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

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from papertrade.data.history import MarketHistory
from papertrade.errors import StrategyError
from papertrade.util.text import one_line
from papertrade.util.validation import format_validation_error

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class SymbolMarker:
    """Metadata marking a params field as a market symbol (see :data:`Symbol`)."""

    def __repr__(self) -> str:
        return "Symbol"


SYMBOL = SymbolMarker()
Symbol = Annotated[str, SYMBOL]
"""A params field holding a symbol (``BTC/USDT``, ``RUT``): found by the default
:meth:`Strategy.symbol_keys` even when it is neither traded nor a benchmark."""


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


def scheduled_labels(labels: pd.DatetimeIndex, policy: RebalancePolicy) -> np.ndarray:
    """Which bars, by their date labels, close on a scheduled rebalance: every bar (daily),
    the ``weekday``'s bars (weekly), none (on_change: events only)."""
    if policy.every == "daily":
        return np.ones(len(labels), dtype=bool)
    if policy.every == "weekly":
        return np.asarray(labels.day_of_week == WEEKDAYS.index(policy.weekday))
    return np.zeros(len(labels), dtype=bool)


def scheduled_days(history: MarketHistory, policy: RebalancePolicy) -> np.ndarray:
    """Which decision times are scheduled rebalances, by the weekday of the deciding bar."""
    return scheduled_labels(history.labels(), policy)


def is_scheduled(label: pd.Timestamp, policy: RebalancePolicy) -> bool:
    """Whether the decision at the close of the bar dated ``label`` is a scheduled rebalance
    (:func:`scheduled_labels` for one bar)."""
    return bool(scheduled_labels(pd.DatetimeIndex([label]), policy)[0])


def checked_decide(strategy: Strategy, history: MarketHistory, *, latest: bool = False,
                   targets: bool = False) -> Decisions:
    """``strategy.decide(history)`` (or ``decide_latest``, or ``targets``), any exception
    inside the strategy turned into a one-line :class:`StrategyError` naming the strategy and
    the decision time."""
    try:
        decisions = (strategy.decide_latest(history) if latest else
                     strategy.targets(history) if targets else strategy.decide(history))
    except Exception as exc:
        when = f"{history.now:%Y-%m-%d %H:%M} UTC" if len(history.clock) else "no bar"
        span = "the decision at" if latest else "the decisions up to"
        raise StrategyError(one_line(
            f"strategy '{strategy.name}' failed computing {span} {when}: "
            f"{type(exc).__name__}: {exc}")) from exc
    validate_decisions(strategy, history, decisions, latest=latest)
    return decisions


def _when(time: object) -> str:
    """A decision time as the errors write it (anything else as its repr)."""
    if isinstance(time, dt.datetime) and not pd.isna(time):
        return f"{time:%Y-%m-%d %H:%M} UTC"
    return repr(time)


def validate_decisions(strategy: Strategy, history: MarketHistory, decisions: object, *,
                       latest: bool = False) -> None:
    """Raise a one-line :class:`StrategyError` (naming the strategy, the time and the column)
    unless ``decisions`` honours the contract: a :class:`Decisions` whose weights have the
    traded symbols as columns, the history's clock as index (``latest``: an index ending at the
    history's last time), and finite values in [0, 1] whose rows sum to at most 1."""
    name = strategy.name

    def fail(problem: str) -> StrategyError:
        return StrategyError(one_line(f"strategy '{name}' returned bad decisions: {problem}"))

    if not isinstance(decisions, Decisions) or not isinstance(decisions.weights, pd.DataFrame):
        raise fail(f"{type(decisions).__name__} instead of Decisions with a weights DataFrame")
    weights = decisions.weights
    traded = strategy.traded_symbols()
    if list(weights.columns) != traded:
        extra = [str(c) for c in weights.columns if c not in set(traded)]
        missing = [s for s in traded if s not in set(weights.columns)]
        detail = (f"unexpected column '{extra[0]}'" if extra else
                  f"missing column '{missing[0]}'" if missing else "columns out of order")
        raise fail(f"weights columns must equal traded_symbols() {traded[:5]}: {detail}")
    index = weights.index
    if latest:
        if not len(index) or not len(history.clock) or index[-1] != history.now:
            end = _when(index[-1]) if len(index) else "nothing"
            raise fail(f"the latest decisions must end at {_when(history.now)}, "
                       f"not at {end} (column: index)")
    elif not index.equals(history.clock):
        at = next(((t, c) for t, c in zip(index, history.clock, strict=False) if t != c), None)
        where = (f": {_when(at[0])} where the clock has {_when(at[1])}" if at is not None
                 else f" with {len(index)} rows for {len(history.clock)} clock times")
        raise fail(f"weights index differs from the history's clock{where} (column: index)")
    try:
        values = weights.to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise fail("weights are not numbers") from None
    for bad, what in ((~np.isfinite(values), "is not finite (NaN or inf)"),
                      (values < 0, "is negative"), (values > 1, "is above 1")):
        if bad.any():
            row, col = (int(i[0]) for i in np.nonzero(bad))
            raise fail(f"weight {float(values[row, col])!r} of {weights.columns[col]} at "
                       f"{_when(index[row])} {what}; weights must be in [0, 1]")
    sums = values.sum(axis=1)
    over = np.nonzero(sums > 1 + 1e-9)[0]
    if len(over):
        row = int(over[0])
        col = int(np.argmax(values[row]))
        raise fail(f"weights at {_when(index[row])} sum to {float(sums[row])!r} > 1 (largest: "
                   f"{weights.columns[col]}); the weights of a row must sum to at most 1")


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

    @classmethod
    def build(cls, weights: pd.DataFrame, *, events: pd.Series | None = None,
              reasons: pd.Series | None = None, inputs: pd.DataFrame | None = None
              ) -> Decisions:
        """Decisions from ``weights`` alone: no events, empty reasons and no inputs unless
        given (each default on the weights' index). Without events, targets reach the broker
        through the rebalance policy only (daily for params without ``rebalance``)."""
        index = weights.index
        blank = pd.Series("", index=index, dtype=object)
        return cls(
            weights=weights,
            events=blank if events is None else events,
            reasons=blank.copy() if reasons is None else reasons,
            inputs=pd.DataFrame(index=index) if inputs is None else inputs,
        )


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
        """The rebalance policy: ``params.rebalance``; for params without one, daily (targets
        sent whenever a weight drifts past the default 0.05, so a strategy that reports no
        events still trades)."""
        policy = getattr(self.params, "rebalance", None)
        return policy if isinstance(policy, RebalancePolicy) else RebalancePolicy(every="daily")

    def symbol_keys(self) -> dict[str, str]:
        """Every symbol the strategy reads, keyed by its config path (for error messages).

        e.g. ``{"strategy.params.signal": "RUT", "strategy.params.alts[0]": "ETH/USDT"}``.
        Default: every params field (nested models included) whose value is a traded or
        benchmark symbol, or a tuple of them, or that is annotated :data:`Symbol`.
        """
        known = {*self.traded_symbols(), *self.benchmark_symbols()}
        return _symbol_fields(self.params, "strategy.params", known)

    @abstractmethod
    def traded_symbols(self) -> list[str]:
        """The symbols that may receive a weight (columns of the weights frame)."""

    @abstractmethod
    def decide(self, history: MarketHistory) -> Decisions:
        """Target weights at every decision time of ``history``, using only past bars."""

    def targets(self, history: MarketHistory) -> Decisions:
        """The weights and events of :meth:`decide` (reasons and inputs may be left blank):
        all a simulator executes. Default: :meth:`decide`. A strategy swept over many
        parameters may compute them faster (e.g. memoising the pieces that depend on one
        parameter per history), returning exactly ``decide``'s weights and events."""
        return self.decide(history)

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


def _marked(annotation: object) -> bool:
    """Whether a type annotation is (or contains) :data:`Symbol`."""
    if get_origin(annotation) is Annotated and any(
            isinstance(m, SymbolMarker) for m in getattr(annotation, "__metadata__", ())):
        return True
    return any(_marked(arg) for arg in get_args(annotation))


_MARKED: dict[tuple[type[BaseModel], str], bool] = {}


def _symbol_fields(model: BaseModel, prefix: str, known: set[str]) -> dict[str, str]:
    """The symbol-valued fields of ``model`` by config path (see :meth:`Strategy.symbol_keys`)."""
    found: dict[str, str] = {}
    for field, info in type(model).model_fields.items():
        value = getattr(model, field)
        key = f"{prefix}.{field}"
        marked = _MARKED.get((type(model), field))
        if marked is None:  # a field's annotation is its class's: look once
            marked = _MARKED[type(model), field] = any(
                isinstance(m, SymbolMarker) for m in info.metadata) or _marked(info.annotation)
        if isinstance(value, BaseModel):
            found.update(_symbol_fields(value, key, known))
        elif isinstance(value, str) and (marked or value in known):
            found[key] = value
        elif isinstance(value, tuple | list) and value and all(
                isinstance(v, str) for v in value) and (marked or all(v in known for v in value)):
            found.update({f"{key}[{i}]": v for i, v in enumerate(value)})
    return found
