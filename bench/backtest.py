"""Wall time and peak memory: the flagship backtest vs bare backtrader on the same feeds.

Each measurement runs in a fresh Python process (imports included, as a user pays them) and
reports the median wall time over ``--repeat`` runs and the peak resident set size.

    python bench/backtest.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "rut_breakout_rotation.yaml"

FLAGSHIP = """
import sys
from loguru import logger
logger.remove()
from papertrade.config import load_config
from papertrade.runner import run_backtest
run_backtest(load_config(sys.argv[1], [f"runs_dir={sys.argv[2]}"]), report=False)
"""

BARE = """
import backtrader as bt
import pandas as pd
from papertrade.data.bars import read_bundled

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT",
           "DOGE/USDT", "AVAX/USDT", "LINK/USDT"]

class BuyBitcoinOnce(bt.Strategy):
    def prenext(self):
        self.next()
    def next(self):
        if not self.position:
            self.buy(data=self.datas[0], size=0.1)

cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
cerebro.broker.setcash(10_000)
for symbol in SYMBOLS:
    frame = read_bundled(symbol).loc["2016-01-01":].copy()
    frame.index = frame.index.as_unit("ns")
    frame["openinterest"] = 0.0
    cerebro.adddata(bt.feeds.PandasData(dataname=frame), name=symbol)
cerebro.addstrategy(BuyBitcoinOnce)
cerebro.run()
"""


def measure(code: str, args: list[str], repeat: int) -> dict[str, float]:
    """Median wall seconds and peak RSS (MiB) of ``python -c code args`` over ``repeat`` runs."""
    walls, peaks = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=ROOT)
        walls.append(time.perf_counter() - start)
        # ru_maxrss of children is the max over all children so far: a new maximum shows up
        peaks.append(max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024)
    return {"wall_s_median": round(statistics.median(walls), 3),
            "wall_s_min": round(min(walls), 3), "peak_rss_mib": round(max(peaks), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        results = {
            "bare backtrader, 9 feeds, buy-once strategy":
                measure(BARE, [], options.repeat),
            "papertrade flagship backtest (data, strategy, backtrader, journal, exports)":
                measure(FLAGSHIP, [str(CONFIG), runs], options.repeat),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
