"""Live replays against the in-process exchange emulator: wall time, and whether a decision
costs the same after years of history as on the first day.

Runs ``papertrade live`` (broker.mode=emulator, simulated clock, no decision delay) in a fresh
process, as a user would, and reads each decision's wall-clock time from the run's ``run.log``
(one INFO line per decision). Prints the wall time, decisions per second, and the median time
per decision over the first and the last ``--window`` decisions.

    python bench/replay.py                                  # the README's 2020-10-01 .. 2021-12-30
    python bench/replay.py --start 2017-08-17 --until 2026-03-02   # the whole bundled history
    python bench/replay.py --checkout /tmp/old-main         # the same replay on another checkout
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path("configs") / "rut_breakout_rotation.yaml"
# the loop's INFO line per decision (`step`; before the one-kernel change, `_decide`)
DECISION = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \| INFO .*live\.loop:(step|_decide)")


REFRESHES = re.compile(r"review files refreshed .*")


def replay(checkout: Path, start: str, until: str) -> tuple[float, list[float]]:
    """Wall seconds of the whole command, and the seconds between consecutive decisions;
    prints how much of the run refreshing the live review files took (when it logs it)."""
    with tempfile.TemporaryDirectory() as runs:
        command = [sys.executable, "-m", "papertrade.cli", "live", str(CONFIG),
                   "--set", f"runs_dir={runs}", "--set", "broker.mode=emulator",
                   "--set", f"broker.emulator.start={start}",
                   "--set", "live.decision_delay_seconds=0", "--until", until]
        began = time.perf_counter()
        subprocess.run(command, cwd=checkout, check=True, capture_output=True)
        wall = time.perf_counter() - began
        (log,) = Path(runs).glob("*/run.log")
        lines = log.read_text().splitlines()
        stamps = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
                  for line in lines if (m := DECISION.match(line))]
        for line in lines:
            if found := REFRESHES.search(line):
                print(found.group(0))
    steps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    return wall, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", default="2020-10-01")
    parser.add_argument("--until", default="2021-12-30")
    parser.add_argument("--window", type=int, default=200, help="decisions per median")
    parser.add_argument("--checkout", type=Path, default=ROOT,
                        help="a papertrade checkout to run (default: this one)")
    args = parser.parse_args()
    wall, steps = replay(args.checkout, args.start, args.until)
    n = len(steps) + 1
    print(f"{args.checkout}: {args.start} .. {args.until}: {n} decisions in {wall:.2f} s "
          f"({n / wall:.1f} decisions/s including start-up)")
    if len(steps) >= 2 * args.window:
        first = statistics.median(steps[: args.window]) * 1000
        last = statistics.median(steps[-args.window:]) * 1000
        print(f"median per decision: first {args.window} {first:.1f} ms, last {args.window} "
              f"{last:.1f} ms (ratio {last / first:.2f})")


if __name__ == "__main__":
    main()
