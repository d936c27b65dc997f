"""The simulator's contract besides parity (tests/sim/test_sim_parity.py): the flagship's
array targets equal its scan's decisions, overrides are validated like ``backtest --set``,
runs are pure and cached pieces are shared, a pickled simulator is rebuilt once per process,
and the replay command parses back to the same config."""

from __future__ import annotations

import datetime as dt
import pickle
import random
import shlex
from typing import Any

import numpy as np
import pytest

from papertrade.assembly import build_strategy, load_history
from papertrade.config import load_config, override_config
from papertrade.errors import ConfigError
from papertrade.sim import Simulator, backtest_command
from tests.sim.sim_grids import FLAGSHIP, FLAGSHIP_GRID, SEED, draw

WINDOWS = [(None, None), (dt.date(2020, 6, 1), dt.date(2022, 6, 30))]


@pytest.fixture(scope="module")
def simulator() -> Simulator:
    return Simulator(load_config(FLAGSHIP), start=dt.date(2020, 6, 1), end=dt.date(2022, 6, 30))


@pytest.mark.parametrize("window", WINDOWS, ids=["full", "2020-2022"])
def test_the_flagship_array_targets_equal_its_scan(window: tuple[Any, Any]) -> None:
    """``targets`` (memoised pieces, episodes, runs) gives ``decide``'s weights and events,
    bit for bit, for random strategy params: one history, as in a sweep."""
    rng = random.Random(SEED)
    loaded = load_config(FLAGSHIP)
    history, _ = load_history(loaded, build_strategy(loaded), *window)
    compared = 0
    for number in range(15):
        params = {k: v for k, v in draw(rng, FLAGSHIP_GRID).items() if k.startswith("strategy")}
        strategy = build_strategy(override_config(loaded, params))
        fast, slow = strategy.targets(history), strategy.decide(history)
        where = f"seed {SEED}, draw {number}: {params}"
        assert fast.weights.index.equals(slow.weights.index), where
        assert list(fast.weights.columns) == list(slow.weights.columns), where
        assert np.array_equal(fast.weights.to_numpy(), slow.weights.to_numpy()), where
        assert list(fast.events) == list(slow.events), where
        compared += int((slow.events != "").sum())
    assert compared > 50  # breakouts, exits and rotations were compared, not only cash


def test_bad_overrides_fail_like_backtest_set(simulator: Simulator) -> None:
    for key, value, fragment in (("strategy.params.exit.ma_dayz", 50, "did you mean 'ma_days'"),
                                 ("broker.fee_bps", -1, "greater than or equal to 0"),
                                 ("strategy.params.breakout.confirm", "hourly", "confirm")):
        with pytest.raises(ConfigError) as raised:
            simulator.run({key: value})
        with pytest.raises(ConfigError) as by_set:
            build_strategy(load_config(FLAGSHIP, [f"{key}={value}"]))
        assert str(raised.value) == str(by_set.value)
        assert fragment in str(raised.value) and "\n" not in str(raised.value)


def test_runs_are_pure_and_share_the_decisions(simulator: Simulator) -> None:
    first = simulator.run({"broker.fee_bps": 20})
    other = simulator.run({"strategy.params.exit.ma_days": 20})
    again = simulator.run({"broker.fee_bps": 20})
    assert first.equity.equals(again.equity) and first.fills.equals(again.fills)
    assert first.metrics == again.metrics
    assert not first.equity.equals(other.equity)
    assert simulator.decide({"broker.fee_bps": 20}) is simulator.decide({"broker.fee_bps": 30})


def test_a_pickled_simulator_is_built_once_per_process(simulator: Simulator) -> None:
    thawed = pickle.loads(pickle.dumps(simulator))
    assert pickle.loads(pickle.dumps(simulator)) is thawed  # the data is loaded once
    assert len(pickle.dumps(simulator)) < 20_000  # the config, not the market data
    overrides = {"strategy.params.rotation.top_k": 2, "risk.max_order_notional": 4000}
    assert thawed.run(overrides).metrics == simulator.run(overrides).metrics


def test_the_replay_command_parses_back_to_the_same_config() -> None:
    overrides = {"strategy.params.breakout.lookback": "all", "strategy.params.exit.ma_days": None,
                 "strategy.params.exit.below_level_pct": 7.5, "broker.fee_bps": 10,
                 "strategy.params.alts": ["ETH/USDT", "SOL/USDT"], "risk.kill_file": "STOP it: #1"}
    command = backtest_command("configs/rut_breakout_rotation.yaml", overrides,
                               start=dt.date(2021, 1, 1))
    words = shlex.split(command)
    assert words[:5] == ["papertrade", "backtest", "configs/rut_breakout_rotation.yaml",
                         "--start", "2021-01-01"]
    sets = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
    loaded = load_config(FLAGSHIP)
    assert load_config(FLAGSHIP, sets).raw == override_config(loaded, overrides).raw


def test_threads_sharing_a_simulator_get_the_sequential_results(simulator: Simulator) -> None:
    """A Dask worker runs several tasks at once on its one simulator."""
    from concurrent.futures import ThreadPoolExecutor

    points = [{"strategy.params.exit.ma_days": d, "strategy.params.rotation.top_k": k,
               "broker.fee_bps": f} for d in (20, 60) for k in (1, 3) for f in (0, 25)]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(simulator.run, points))
    for point, result in zip(points, parallel, strict=True):
        assert result.metrics == simulator.run(point).metrics, point
