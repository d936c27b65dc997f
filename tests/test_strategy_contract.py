"""The strategy contract, checked on every answer: ``Decisions.build`` fills the defaults,
malformed weights are a one-line StrategyError (exit 5) naming the strategy, the time and the
column, and ``symbol_keys`` is derived from the params by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from pydantic import Field

from papertrade.config import load_config
from papertrade.data.history import MarketHistory
from papertrade.errors import StrategyError
from papertrade.runner import build_strategy, load_history
from papertrade.strategies import MomentumRotation, RutBreakoutRotation, get_strategy
from papertrade.strategies.base import (
    Decisions,
    Strategy,
    StrategyParams,
    Symbol,
    checked_decide,
)
from tests.cli_harness import run_cli
from tests.conftest import ALTS, CONFIGS, ROOT

Mutation = Callable[[pd.DataFrame], pd.DataFrame]


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    loaded = load_config(CONFIGS / "momentum_rotation.yaml",
                         ["data.start=2021-01-01", "data.end=2021-03-31"])
    return load_history(loaded, build_strategy(loaded))[0]


def malformed(history: MarketHistory, mutate: Mutation, *, latest: bool = False) -> str:
    """The error of a momentum rotation whose weights went through ``mutate``."""

    class Malformed(MomentumRotation):
        name: ClassVar[str] = "malformed"

        def decide(self, history: MarketHistory) -> Decisions:
            good = super().decide(history)
            return Decisions.build(mutate(good.weights.copy()))

    loaded = load_config(CONFIGS / "momentum_rotation.yaml")
    strategy = Malformed(build_strategy(loaded).params)
    with pytest.raises(StrategyError) as caught:
        checked_decide(strategy, history, latest=latest)
    assert caught.value.exit_code == 5
    message = str(caught.value)
    assert "\n" not in message and message.startswith("strategy 'malformed' returned bad")
    return message


def at(row: int, col: int, value: float) -> Mutation:
    def mutate(weights: pd.DataFrame) -> pd.DataFrame:
        weights.iloc[row, col] = value
        return weights
    return mutate


@pytest.mark.parametrize(("value", "what"), [
    (np.nan, "not finite"), (np.inf, "not finite"), (-0.1, "negative"), (1.5, "above 1")])
def test_a_bad_weight_names_the_time_and_the_column(history: MarketHistory, value: float,
                                                    what: str) -> None:
    message = malformed(history, at(10, 1, value))
    column = MomentumRotation.from_raw(
        {"universe": list(history.traded)}).traded_symbols()[1]
    assert what in message and f"of {column} at" in message
    assert f"{history.clock[10]:%Y-%m-%d %H:%M} UTC" in message


def test_a_row_summing_above_one_is_refused(history: MarketHistory) -> None:
    def double(weights: pd.DataFrame) -> pd.DataFrame:
        weights.iloc[20] = 0.9
        return weights
    message = malformed(history, double)
    assert "sum to" in message and f"{history.clock[20]:%Y-%m-%d %H:%M} UTC" in message


def test_columns_must_be_the_traded_symbols(history: MarketHistory) -> None:
    assert "unexpected column 'XYZ/USDT'" in malformed(
        history, lambda w: w.assign(**{"XYZ/USDT": 0.0}))
    missing = malformed(history, lambda w: w.iloc[:, 1:])
    assert "missing column" in missing and "traded_symbols()" in missing
    assert "out of order" in malformed(history, lambda w: w[w.columns[::-1]])


def test_the_index_must_be_the_clock(history: MarketHistory) -> None:
    short = malformed(history, lambda w: w.iloc[:-1])
    assert "clock" in short and "column: index" in short
    shifted = malformed(history, lambda w: w.set_axis(w.index + pd.Timedelta(hours=1)))
    assert f"where the clock has {history.clock[0]:%Y-%m-%d %H:%M} UTC" in shifted
    numbered = malformed(history, lambda w: w.reset_index(drop=True))
    assert f": 0 where the clock has {history.clock[0]:%Y-%m-%d %H:%M} UTC" in numbered


def test_latest_decisions_must_end_at_the_last_time(history: MarketHistory) -> None:
    message = malformed(history, lambda w: w.iloc[:-1], latest=True)
    assert f"must end at {history.now:%Y-%m-%d %H:%M} UTC" in message


def test_non_numeric_weights_are_refused(history: MarketHistory) -> None:
    assert "not numbers" in malformed(history, lambda w: w.astype(object).where(w > 1, "x"))


def test_build_fills_the_defaults(history: MarketHistory) -> None:
    weights = pd.DataFrame(0.5, index=history.clock, columns=["BTC/USDT"])
    built = Decisions.build(weights)
    assert built.events.index.equals(history.clock) and (built.events == "").all()
    assert built.reasons.index.equals(history.clock) and (built.reasons == "").all()
    assert built.inputs.index.equals(history.clock) and built.inputs.shape[1] == 0
    reasons = pd.Series("why", index=history.clock)
    assert Decisions.build(weights, reasons=reasons).reasons is reasons


def test_default_symbol_keys_equal_the_former_explicit_ones() -> None:
    flagship = get_strategy("rut_breakout_rotation").from_raw({"alts": ALTS[:3]})
    assert isinstance(flagship, RutBreakoutRotation)
    p = flagship.params
    explicit = {"strategy.params.signal": p.signal, "strategy.params.btc": p.btc,
                **{f"strategy.params.alts[{i}]": a for i, a in enumerate(p.alts)}}
    assert list(flagship.symbol_keys().items()) == list(explicit.items())
    momentum = get_strategy("momentum_rotation").from_raw({"universe": ALTS[:4]})
    assert momentum.symbol_keys() == {
        f"strategy.params.universe[{i}]": s for i, s in enumerate(ALTS[:4])}


class PairParams(StrategyParams):
    """A traded pair, an annotated reference read but neither traded nor a benchmark."""

    traded: Symbol = "BTC/USDT"
    reference: Symbol = "RUT"
    others: tuple[Symbol, ...] = ("ETH/USDT", "SOL/USDT")
    label: str = Field(default="BTC/USDT-ish")
    window: int = 3


class Pair(Strategy):
    """Holds ``traded``; reads ``reference``."""

    name: ClassVar[str] = "pair"
    Params: ClassVar[type[StrategyParams]] = PairParams
    params: PairParams

    def traded_symbols(self) -> list[str]:
        return [self.params.traded]

    def decide(self, history: MarketHistory) -> Decisions:
        raise NotImplementedError


def test_symbol_annotated_fields_are_symbol_keys() -> None:
    assert Pair(PairParams()).symbol_keys() == {
        "strategy.params.traded": "BTC/USDT", "strategy.params.reference": "RUT",
        "strategy.params.others[0]": "ETH/USDT", "strategy.params.others[1]": "SOL/USDT"}


def test_a_malformed_answer_stops_a_backtest_with_exit_5(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through the CLI: a user strategy whose weights exceed 1 stops before any run folder."""
    (tmp_path / "greedy.py").write_text(
        (ROOT / "docs" / "examples" / "sma_cross.py").read_text()
        .replace('"sma_cross"', '"greedy"').replace(".astype(float))", ".astype(float) * 2)"))
    cfg = tmp_path / "run.yaml"
    cfg.write_text("name: greedy\nstrategy: {path: greedy.py, name: greedy}\n"
                   f"data: {{start: 2021-01-01, end: 2021-06-30}}\nruns_dir: {tmp_path / 'runs'}\n")
    done = run_cli(["backtest", str(cfg)], capsys)
    assert done.code == 5 and "Traceback" not in done.err
    (line,) = done.err.strip().splitlines()
    assert "strategy 'greedy' returned bad decisions: weight 2.0 of BTC/USDT at" in line
    assert "above 1" in line and not (tmp_path / "runs").exists()
