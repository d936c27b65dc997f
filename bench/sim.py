"""Per-config cost of the fast simulator on the flagship over the full bundled history.

Three sweeps, each a seeded random sample of a grid, run one after the other in one process
(one core), after the simulator has loaded the data:

- (a) broker: only broker and risk keys vary (the strategy's decisions are reused);
- (b) exit/rotation: the exit and rotation params vary (the breakout series are reused);
- (c) breakout: the breakout params vary too (everything is recomputed per new value).

Prints per-config milliseconds (median, mean, p95; wall and CPU time) and configs/s for each.

    python bench/sim.py [--configs 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time
from pathlib import Path
from typing import Any

from loguru import logger

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "rut_breakout_rotation.yaml"

BROKER: dict[str, list[Any]] = {
    "broker.fee_bps": [0, 5, 10, 15, 20, 30],
    "broker.slippage_bps": [0, 5, 10, 20],
    "risk.max_order_notional": [None, 5000, 20000],
    "risk.kill_drawdown": [None, 0.3, 0.5],
}
EXIT_ROTATION: dict[str, list[Any]] = {
    "strategy.params.exit.below_level_pct": [2.0, 3.0, 5.0, 8.0, 10.0],
    "strategy.params.exit.ma_days": [20, 50, 100, 200],
    "strategy.params.exit.min_hold_days": [0, 7, 14],
    "strategy.params.rotation.trigger": ["never", "days_since_entry", "btc_new_high",
                                         "alts_outperform"],
    "strategy.params.rotation.share": [0.25, 0.5, 0.75],
    "strategy.params.rotation.top_k": [1, 2, 3],
    "strategy.params.rotation.momentum_days": [14, 30, 60],
}
BREAKOUT: dict[str, list[Any]] = {
    "strategy.params.breakout.lookback": ["all", 20, 60, 120, 250, 500],
    "strategy.params.breakout.confirm": ["daily", "weekly", "monthly"],
    "strategy.params.breakout.min_drought": [0, 5, 20, 60],
    "strategy.params.exit.ma_days": [20, 50, 100],
    "strategy.params.exit.below_level_pct": [3.0, 5.0, 10.0],
}


def sample(grid: dict[str, list[Any]], count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` distinct points of ``grid`` in random order."""
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    rng.shuffle(points)
    return points[:count]


def measure(sim: Any, points: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each ``sim.run`` (CPU: this process only, a fairer
    figure on a machine shared with other work)."""
    wall, cpu = [], []
    for point in points:
        start, start_cpu = time.perf_counter(), time.process_time()
        sim.run(point)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logger.remove()
    from papertrade.config import load_config
    from papertrade.sim import Simulator

    start = time.perf_counter()
    sim = Simulator(load_config(CONFIG))
    print(f"simulator built (data loaded, base decisions): {time.perf_counter() - start:.2f} s")
    rng = random.Random(args.seed)
    for label, grid in (("(a) broker/risk keys", BROKER),
                        ("(b) exit/rotation params", EXIT_ROTATION),
                        ("(c) breakout params", BREAKOUT)):
        wall, cpu = measure(sim, sample(grid, args.configs, rng))
        for kind, spent in (("wall", wall), ("cpu", cpu)):
            ordered = sorted(spent)
            p95 = ordered[int(0.95 * (len(ordered) - 1))]
            print(f"{label:26s} {kind:4s} {len(spent):4d} configs: median "
                  f"{statistics.median(spent):6.2f} ms  mean {statistics.fmean(spent):6.2f} ms"
                  f"  p95 {p95:6.2f} ms  -> {1000 / statistics.fmean(spent):6.1f} configs/s "
                  "on one core")


if __name__ == "__main__":
    main()
