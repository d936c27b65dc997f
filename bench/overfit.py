"""Overfitting statistics at sweep scale: seconds for the deflated Sharpe, PBO (CSCV, 16 blocks),
the SPA test and the whole ``overfitting_summary`` of N configs over T daily bars.

The returns are synthetic, shaped like a parameter grid: configs in clusters that share most of
their daily returns (neighbouring parameters trade alike), a few with a small edge.

    python bench/overfit.py                       # N = 1,000 configs x T = 3,300 bars
    python bench/overfit.py --configs 5000 --reps 500
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from papertrade.research.overfit import (
    deflated_sharpe,
    overfitting_summary,
    pbo_cscv,
    spa_vs_benchmark,
)


def grid_returns(configs: int, bars: int, clusters: int, seed: int) -> tuple[pd.DataFrame,
                                                                             pd.Series]:
    """Daily returns of a clustered grid of configs and of a benchmark, on one clock."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2017-08-17", periods=bars, freq="D")
    benchmark = pd.Series(rng.normal(0.001, 0.035, bars), index=index)
    shared = rng.normal(0.0, 0.02, (bars, clusters))
    members = rng.integers(0, clusters, configs)
    values = 0.9 * shared[:, members] + 0.45 * rng.normal(0.0, 0.02, (bars, configs))
    values[:, : configs // 100] += 0.0015  # a few configs with an edge
    columns = [f"config-{i:05d}" for i in range(configs)]
    return pd.DataFrame(values, index=index, columns=columns), benchmark


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = call()
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=int, default=1000)
    parser.add_argument("--bars", type=int, default=3300)
    parser.add_argument("--clusters", type=int, default=60)
    parser.add_argument("--reps", type=int, default=1000, help="SPA bootstrap replications")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    returns, benchmark = grid_returns(args.configs, args.bars, args.clusters, args.seed)
    print(f"{args.configs} configs x {args.bars} bars ({args.clusters} clusters)")
    seconds, dsr = timed(lambda: deflated_sharpe(returns, 365))
    print(f"deflated_sharpe      {seconds:6.2f} s   DSR {dsr['dsr']:.3f}, "
          f"N_eff {dsr['n_effective']:.1f}")
    seconds, pbo = timed(lambda: pbo_cscv(returns, 16))
    print(f"pbo_cscv (S=16)      {seconds:6.2f} s   PBO {pbo['pbo']:.3f} over "
          f"{pbo['n_combinations']} splits")
    seconds, spa = timed(lambda: spa_vs_benchmark(returns, benchmark, reps=args.reps))
    print(f"spa_vs_benchmark     {seconds:6.2f} s   p {spa['pvalue_consistent']:.3f} "
          f"({args.reps} reps, block {spa['block_size']})")
    seconds, summary = timed(lambda: overfitting_summary(returns, benchmark, 365,
                                                         reps=args.reps))
    print(f"overfitting_summary  {seconds:6.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory          {peak:6.0f} MB (the returns matrix: "
          f"{returns.to_numpy().nbytes / 2**20:.0f} MB)")
    print(summary["verdict"])


if __name__ == "__main__":
    main()
