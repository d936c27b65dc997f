"""Sweep throughput and memory: the flagship over a grid of 1,026 configs on the bundled data.

Runs ``papertrade sweep`` as a user would (a fresh process, a local Dask cluster) on 1 worker
and on 2, and prints configs/s (while configs run, after the workers have loaded the data; the
execution phase, data loading and summaries included; the whole command, start-up and the
up-front validation of every grid point included), the peak resident memory of the whole
process tree (the command and its workers, sampled every 0.1 s) at 513 and at 1,026 configs
(flat in the number of configs?),
and the ratio to running configs one by one through ``papertrade backtest`` (a sample of 3).

    python bench/sweep.py [--engine sim|backtrader] [--skip-backtest]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "rut_breakout_rotation.yaml"
PAPERTRADE = str(Path(sys.executable).parent / "papertrade")
GRID = ["--grid", "strategy.params.exit.ma_days=20..200:10",       # 19
        "--grid", "strategy.params.exit.below_level_pct=2..10:1",  # 9
        "--grid", "strategy.params.rotation.top_k=1..3",           # 3
        "--grid", "broker.fee_bps=5,10"]                           # 2 -> 1,026 configs
SAMPLE = [["--set", "strategy.params.exit.ma_days=50"],
          ["--set", "strategy.params.exit.ma_days=120", "--set", "broker.fee_bps=5"],
          ["--set", "strategy.params.rotation.top_k=1", "--set",
           "strategy.params.exit.below_level_pct=3"]]


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of ``proc`` and all its descendants."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def tree_cpu(proc: psutil.Process, seen: dict[int, float]) -> None:
    """Record the CPU seconds (user + system) of ``proc`` and its descendants in ``seen``."""
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        seen[p.pid] = max(seen.get(p.pid, 0.0), times.user + times.system)


def timed(argv: list[str]) -> tuple[float, int, str, float]:
    """Wall seconds, peak tree RSS, stdout and CPU seconds of the tree of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    peak = [0]
    cpu: dict[int, float] = {}

    def sample() -> None:
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], tree_rss(watched))
                tree_cpu(watched, cpu)
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, err = proc.communicate()
    thread.join()
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {err[-2000:]}")
    return time.perf_counter() - started, peak[0], out, sum(cpu.values())


def sweep(runs: Path, workers: int, engine: str, extra: list[str]) -> dict[str, Any]:
    argv = [PAPERTRADE, "sweep", str(CONFIG), *GRID, "--workers", str(workers), "--engine",
            engine, "--set", f"runs_dir={runs}", "--no-progress", *extra]
    wall, peak, _, cpu = timed(argv)
    (folder,) = sorted(runs.glob("*-sweep-*"))[-1:]
    manifest = json.loads((folder / "manifest.json").read_text())
    done = manifest["counts"]["done"]
    return {"workers": workers, "configs": done, "wall_s": wall,
            "configs_per_s": manifest["timings"]["configs_per_s"],
            "run_configs_per_s": manifest["timings"]["run_configs_per_s"],
            "setup_s": manifest["timings"]["setup_s"],
            "configs_per_s_wall": done / wall, "peak_mb": peak / 2**20, "cpu_s": cpu,
            "folder": str(folder)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="sim")
    parser.add_argument("--skip-backtest", action="store_true")
    args = parser.parse_args()
    rows = []
    print(f"load average before: {', '.join(f'{x:.1f}' for x in psutil.getloadavg())} "
          f"on {psutil.cpu_count()} cores (other jobs slow every figure below)")
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            rows.append(sweep(Path(tmp) / f"w{workers}", workers, args.engine, []))
        half = sweep(Path(tmp) / "half", 2, args.engine, ["--samples", "513"])
        for row in rows:
            print(f"{row['configs']} configs on {row['workers']} worker(s): "
                  f"{row['run_configs_per_s']:.1f} configs/s (configs running, after "
                  f"{row['setup_s']:.1f} s of data loading on the workers), "
                  f"{row['configs_per_s']:.1f} configs/s (execution), "
                  f"{row['configs_per_s_wall']:.1f} configs/s (whole command, "
                  f"{row['wall_s']:.1f} s), peak memory {row['peak_mb']:.0f} MB, "
                  f"CPU {row['cpu_s']:.1f} s for the whole tree "
                  f"({row['configs'] / row['cpu_s']:.1f} configs per CPU-second)")
        print(f"memory: {half['configs']} configs peak {half['peak_mb']:.0f} MB, "
              f"{rows[1]['configs']} configs peak {rows[1]['peak_mb']:.0f} MB (2 workers)")
        if not args.skip_backtest:
            seconds = []
            for sets in SAMPLE:
                wall, _, _, _ = timed([PAPERTRADE, "backtest", str(CONFIG), "--no-report",
                                    "--set", f"runs_dir={tmp}/bt", *sets])
                seconds.append(wall)
            per = sum(seconds) / len(seconds)
            best = max(r["configs_per_s"] for r in rows)
            print(f"papertrade backtest one by one: {per:.2f} s a config "
                  f"({', '.join(f'{s:.2f}' for s in seconds)}); the sweep is "
                  f"{best * per:,.0f}x faster ({best:.1f} configs/s vs {1 / per:.2f})")


if __name__ == "__main__":
    main()
