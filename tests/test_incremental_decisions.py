"""A live run asks the strategy only for its latest decision (``Strategy.decide_latest``):
at every bar of multi-year replays it must equal, bit for bit, the decision the backtest
computes over the whole history, whatever the strategy's parameters."""

from __future__ import annotations

import pandas as pd
import pytest

from papertrade.config import load_config
from papertrade.data.history import MarketHistory
from papertrade.runner import build_strategy, load_history
from papertrade.strategies import Strategy
from tests.conftest import CONFIGS, FLAGSHIP

CASES = {
    "flagship": (FLAGSHIP, []),
    "weekly-btc-high": (FLAGSHIP, ["strategy.params.breakout.confirm=weekly",
                                   "strategy.params.rotation.trigger=btc_new_high",
                                   "data.start=2020-06-01", "data.end=2021-12-31"]),
    "monthly-alts-daily": (FLAGSHIP, ["strategy.params.breakout.confirm=monthly",
                                      "strategy.params.rotation.trigger=alts_outperform",
                                      "strategy.params.rebalance.every=daily",
                                      "strategy.params.breakout.lookback=252",
                                      "data.start=2021-01-01", "data.end=2022-06-30"]),
    "momentum": (CONFIGS / "momentum_rotation.yaml", ["data.start=2021-06-01",
                                                      "data.end=2022-12-31"]),
}


def replay(strategy: Strategy, history: MarketHistory) -> list[pd.Timestamp]:
    """Ask ``strategy`` (a fresh instance) for its latest decision at every bar, as a live run
    does; returns the times whose decision differs from the whole-history computation."""
    whole = strategy.decide(history)
    live = type(strategy)(strategy.params)
    differ = []
    for time in history.clock:
        latest = live.decide_latest(history.truncate(time))
        row = whole.weights.index.get_loc(time)
        same = (latest.weights.iloc[-1].equals(whole.weights.iloc[row])
                and latest.inputs.iloc[-1].equals(whole.inputs.iloc[row])
                and latest.events.iloc[-1] == whole.events.iloc[row]
                and latest.reasons.iloc[-1] == whole.reasons.iloc[row])
        if not same or latest.weights.index[-1] != time:
            differ.append(time)
    return differ


@pytest.mark.parametrize("case", list(CASES))
def test_latest_decision_is_the_whole_history_decision_at_every_bar(case: str) -> None:
    path, overrides = CASES[case]
    loaded = load_config(path, overrides)
    strategy = build_strategy(loaded)
    history, _ = load_history(loaded, strategy)
    assert len(history.clock) > 500
    assert replay(strategy, history) == []


def test_a_replay_that_does_not_extend_the_last_history_starts_over() -> None:
    """Asked about an earlier time (a restarted run, a test), the scan starts afresh rather
    than returning a decision computed on another history."""
    loaded = load_config(FLAGSHIP, ["data.start=2020-06-01", "data.end=2021-06-30"])
    strategy = build_strategy(loaded)
    history, _ = load_history(loaded, strategy)
    whole = strategy.decide(history)
    live = build_strategy(loaded)
    late, early = history.clock[-1], history.clock[100]
    assert live.decide_latest(history.truncate(late)).weights.iloc[-1].equals(
        whole.weights.loc[late])
    assert live.decide_latest(history.truncate(early)).weights.iloc[-1].equals(
        whole.weights.loc[early])
