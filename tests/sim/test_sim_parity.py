"""The fast simulator is verified, not trusted: for random configs of the flagship's grid and of
``momentum_rotation``, its equity curve equals backtrader's ``equity.csv`` to 1e-9 relative,
its fills equal ``trades.csv`` and its metrics ``metrics.json``.

Most configs run on one-year windows (backtrader costs about a second per year of data); a few on
the full bundled history (marked ``slow``, run by CI). The draw is seeded; a failure prints the
seed and the command that replays the config through backtrader.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from papertrade.config import load_config
from papertrade.runner import run_backtest
from papertrade.sim import SimResult, Simulator, backtest_command
from tests.conftest import CONFIGS
from tests.sim.sim_grids import (
    FLAGSHIP,
    FLAGSHIP_GRID,
    MOMENTUM,
    MOMENTUM_GRID,
    RTOL,
    SEED,
    SHORT,
    draw,
)


@dataclass(frozen=True)
class Case:
    """One random config: its file, window and overrides."""

    number: int
    config: Path
    overrides: dict[str, Any]
    start: dt.date | None
    end: dt.date | None

    def replay(self) -> str:
        return backtest_command(self.config.relative_to(CONFIGS.parent), self.overrides,
                                start=self.start, end=self.end)

    def describe(self) -> str:
        return f"seed {SEED} (PAPERTRADE_SIM_SEED), case {self.number}: {self.replay()}"


def cases(full: bool) -> list[Case]:
    """The seeded draw: 44 short-window configs and 6 on the full history."""
    rng = random.Random(SEED)
    drawn: list[Case] = []
    for number in range(50):
        flagship = number % 3 != 2
        grid = FLAGSHIP_GRID if flagship else MOMENTUM_GRID
        overrides = draw(rng, grid)
        window = (None, None) if number % 9 == 4 else rng.choice(SHORT)
        drawn.append(Case(number, FLAGSHIP if flagship else MOMENTUM, overrides, *window))
    return [c for c in drawn if (c.start is None) == full]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sim-parity")


@pytest.fixture(scope="module")
def simulators() -> dict[tuple[Path, dt.date | None, dt.date | None], Simulator]:
    """One simulator per config file and window, shared by the module's cases."""
    return {}


def _simulate(case: Case, runs: Path, cache: dict[Any, Simulator]) -> SimResult:
    key = (case.config, case.start, case.end)
    if key not in cache:
        cache[key] = Simulator(load_config(case.config), start=case.start, end=case.end)
    return cache[key].run({**case.overrides, "runs_dir": str(runs)})


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, float) and isinstance(right, float | int):
        return math.isclose(left, right, rel_tol=RTOL, abs_tol=1e-12)
    return bool(left == right)


def check(case: Case, runs: Path, cache: dict[Any, Simulator]) -> None:
    """Backtrader's run folder and the simulator agree on equity, fills and metrics."""
    loaded = load_config(case.config, [f"runs_dir={runs}"] + [
        f"{k}={json.dumps(v)}" for k, v in case.overrides.items()])
    folder = run_backtest(loaded, start=case.start, end=case.end, report=False).folder
    sim = _simulate(case, runs, cache)
    where = case.describe()

    equity = pd.read_csv(folder / "equity.csv")
    assert list(equity["date"]) == list(sim.equity.index.strftime("%Y-%m-%d")), where
    np.testing.assert_allclose(sim.equity.to_numpy(), equity["equity"], rtol=RTOL, atol=0,
                               err_msg=where)

    trades = pd.read_csv(folder / "trades.csv", keep_default_na=False)
    assert list(sim.fills.columns) == list(trades.columns), where
    assert len(sim.fills) == len(trades), f"{len(sim.fills)} fills, bt {len(trades)}: {where}"
    for column in trades.columns:
        if trades[column].dtype.kind in "fi":  # a column of zero fees reads as integers
            np.testing.assert_allclose(sim.fills[column].to_numpy(dtype=float), trades[column],
                                       rtol=RTOL, atol=1e-12, err_msg=f"{column}: {where}")
        else:
            assert list(sim.fills[column].astype(str)) == list(trades[column].astype(str)), (
                f"{column}: {where}")

    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics.keys() == sim.metrics.keys(), where
    differ = {k: (metrics[k], sim.metrics[k]) for k in metrics
              if not _same(metrics[k], sim.metrics[k])}
    assert not differ, f"metrics differ {differ}: {where}"


SHORT_CASES = cases(full=False)
FULL_CASES = cases(full=True)


def test_the_draw_covers_both_strategies_and_every_rail() -> None:
    drawn = SHORT_CASES + FULL_CASES
    assert len(drawn) >= 50
    assert sum(c.config == MOMENTUM for c in drawn) >= 15
    for key in ("risk.max_order_notional", "risk.max_daily_turnover", "risk.kill_drawdown"):
        assert sum(c.overrides[key] is not None for c in drawn) >= 10, key
    assert {c.overrides["strategy.params.rebalance.every"] for c in drawn} == {
        "daily", "weekly", "on_change"}


@pytest.mark.parametrize("case", SHORT_CASES, ids=lambda c: f"case{c.number}")
def test_simulator_equals_backtrader_on_a_short_window(
        case: Case, runs: Path, simulators: dict[Any, Simulator]) -> None:
    check(case, runs, simulators)


@pytest.mark.slow
@pytest.mark.parametrize("case", FULL_CASES, ids=lambda c: f"case{c.number}")
def test_simulator_equals_backtrader_on_the_full_history(
        case: Case, runs: Path, simulators: dict[Any, Simulator]) -> None:
    check(case, runs, simulators)
