"""The flagship strategy on the real bundled data: breakouts, availability, causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papertrade.data.bars import default_calendar, read_bundled
from papertrade.data.history import MarketHistory, SymbolBars
from papertrade.strategies import RutBreakoutRotation, get_strategy
from papertrade.strategies.signals import prior_high
from tests.conftest import ALTS


def history(symbols: list[str], traded: list[str], start: str = "2016-01-01") -> MarketHistory:
    bars = {s: SymbolBars.from_bars(s, default_calendar(s), read_bundled(s)) for s in symbols}
    return MarketHistory.build(bars, traded, start=pd.Timestamp(start))


@pytest.fixture(scope="module")
def full() -> MarketHistory:
    return history(["RUT", "BTC/USDT", *ALTS], ["BTC/USDT", *ALTS])


def flagship(**params: object) -> RutBreakoutRotation:
    strategy = get_strategy("rut_breakout_rotation").from_raw({"alts": ALTS, **params})
    assert isinstance(strategy, RutBreakoutRotation)
    return strategy


def test_first_close_above_the_2021_record_is_2025_09_18() -> None:
    rut = read_bundled("RUT")["close"]
    record = rut.loc["2021-01-01":"2021-12-31"]
    assert record.max() == pytest.approx(2442.74)
    assert record.idxmax() == pd.Timestamp("2021-11-08")
    level = prior_high(rut, "all")
    above = rut[(rut > level) & (rut.index > record.idxmax())]
    assert above.index[0] == pd.Timestamp("2025-09-18")
    assert level[above.index[0]] == pytest.approx(2442.74)


def test_flagship_breaks_out_on_2025_09_18_and_trades_the_next_day(full: MarketHistory) -> None:
    decisions = flagship().decide(full)
    events = decisions.events[decisions.events == "breakout"]
    after_2022 = events[events.index > pd.Timestamp("2022-01-01", tz="UTC")]
    first = after_2022.index[0]
    # RUT closes 2025-09-18 16:00 New York = 20:00 UTC; the next crypto decision is the close
    # of the 2025-09-18 bar, 2025-09-19 00:00 UTC.
    assert first == pd.Timestamp("2025-09-19 00:00", tz="UTC")
    inputs = decisions.inputs.loc[first]
    assert inputs["signal_date"] == "2025-09-18"
    assert inputs["signal_close"] == pytest.approx(2467.70)
    assert inputs["breakout_level"] == pytest.approx(2442.74)
    assert "2,467.70 > prior high 2,442.74" in decisions.reasons[first]
    assert decisions.weights.loc[first, "BTC/USDT"] == pytest.approx(1.0)


def test_index_seen_on_weekend_is_fridays_close(full: MarketHistory) -> None:
    rut = read_bundled("RUT")["close"]
    seen = full.as_of(full.native("RUT")["close"])
    labels = full.labels()
    checked = 0
    for time, label in zip(full.clock, labels, strict=True):
        if label.day_of_week in (5, 6) and label.year >= 2018:  # Saturday or Sunday bars
            friday = label - pd.Timedelta(days=label.day_of_week - 4)
            if friday in rut.index:
                assert seen[time] == rut[friday], (label, friday)
                checked += 1
    assert checked > 800


def test_index_close_not_visible_before_it_is_published() -> None:
    h = history(["RUT", "BTC/USDT"], ["BTC/USDT"])
    seen = h.as_of(h.native("RUT")["close"])
    rut = read_bundled("RUT")["close"]
    # the decision at 2025-09-18 00:00 UTC (close of the 09-17 crypto bar) sees 09-17's close
    assert seen[pd.Timestamp("2025-09-18", tz="UTC")] == rut[pd.Timestamp("2025-09-17")]
    assert seen[pd.Timestamp("2025-09-19", tz="UTC")] == rut[pd.Timestamp("2025-09-18")]


def test_asset_listed_late_joins_when_its_history_begins(full: MarketHistory) -> None:
    closes = full.closes()
    first_avax = read_bundled("AVAX/USDT").index[0]
    avax = closes["AVAX/USDT"]
    assert avax[: pd.Timestamp(first_avax, tz="UTC")].isna().all()
    assert avax.first_valid_index() == pd.Timestamp(first_avax + pd.Timedelta(days=1), tz="UTC")
    weights = flagship().decide(full).weights
    assert (weights.loc[: pd.Timestamp(first_avax, tz="UTC"), "AVAX/USDT"] == 0).all()


CONFIGS = [
    {},
    {"breakout": {"lookback": 252, "confirm": "weekly", "min_drought": 20},
     "rotation": {"trigger": "alts_outperform", "trigger_days": 14}},
    {"breakout": {"lookback": 63, "confirm": "monthly"},
     "exit": {"below_level_pct": None, "ma_days": 20, "min_hold_days": 10},
     "rotation": {"trigger": "btc_new_high", "trigger_days": 20, "top_k": 2},
     "rebalance": {"every": "daily", "drift": 0.02}},
]


@pytest.mark.parametrize("params", CONFIGS, ids=["default", "weekly", "monthly"])
def test_weights_on_truncated_history_equal_the_full_run(
    full: MarketHistory, params: dict[str, object]
) -> None:
    """No look-ahead: cut the history anywhere and the weights up to the cut do not change."""
    strategy = flagship(**params)
    whole = strategy.decide(full)
    rng = np.random.default_rng(7)
    cuts = sorted(rng.choice(len(full.clock), size=25, replace=False))
    # around events too: the day before, of and after each regime change
    for when in whole.events[whole.events != ""].index[:8]:
        k = full.clock.get_loc(when)
        cuts += [k - 1, k, k + 1]
    for k in sorted(set(cuts)):
        cut = full.clock[k]
        part = strategy.decide(full.truncate(cut))
        assert part.weights.index[-1] == cut
        pd.testing.assert_frame_equal(part.weights, whole.weights.loc[:cut])
        assert (part.events == whole.events.loc[:cut]).all()


def test_weights_are_a_long_only_portfolio(full: MarketHistory) -> None:
    weights = flagship().decide(full).weights
    assert (weights >= 0).all().all()
    assert (weights.sum(axis=1) <= 1 + 1e-12).all()
    assert weights.to_numpy().sum() > 0


def test_momentum_rotation_uses_no_index() -> None:
    strategy = get_strategy("momentum_rotation").from_raw(
        {"universe": ["BTC/USDT", "ETH/USDT", "SOL/USDT"], "top_k": 1}
    )
    h = history(["BTC/USDT", "ETH/USDT", "SOL/USDT"], ["BTC/USDT", "ETH/USDT", "SOL/USDT"])
    decisions = strategy.decide(h)
    assert set(strategy.symbol_keys().values()) == {"BTC/USDT", "ETH/USDT", "SOL/USDT"}
    held = (decisions.weights > 0).sum(axis=1)
    assert held.max() == 1 and held.sum() > 100
    cut = h.clock[1500]
    part = strategy.decide(h.truncate(cut))
    pd.testing.assert_frame_equal(part.weights, decisions.weights.loc[:cut])


def test_a_window_opened_on_an_episode_under_way_says_so() -> None:
    """Entered at the window's first decision, the reason names the episode's own breakout,
    not today's close against today's prior high (1,974.86 is not above 2,007.10)."""
    late = history(["RUT", "BTC/USDT", *ALTS], ["BTC/USDT", *ALTS], start="2021-01-01")
    decisions = flagship().decide(late)
    first = decisions.events.index[0]
    assert decisions.events.iloc[0] == "breakout"
    assert decisions.inputs.loc[first, "signal_close"] < decisions.inputs.loc[
        first, "breakout_level"]
    reason = decisions.reasons[first]
    assert reason.startswith("breakout under way since 2020-11-") and "> prior high" not in reason
