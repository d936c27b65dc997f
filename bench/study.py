"""Wall time of ``papertrade study`` on the flagship with 10,000 placebos (target: < 10 s).

The whole command as a user runs it (a fresh process: imports, data, the strategy's
decisions, every kind's placebos, bootstrap and HAC, the run folder and report.html), median
over ``--repeat`` runs; then the compute part alone, in process, split by stage.

    python bench/study.py [--repeat 3] [--placebos 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "rut_breakout_rotation.yaml"
PAPERTRADE = str(Path(sys.executable).with_name("papertrade"))


def whole_command(placebos: int, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds per ``papertrade study`` run, each in a fresh
    process; the CPU figure does not depend on what else the machine is doing."""
    walls, cpus = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as runs:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([PAPERTRADE, "study", str(CONFIG), "--placebos", str(placebos),
                            "--set", f"runs_dir={runs}"], check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def stages(placebos: int) -> dict[str, float]:
    """Seconds of each stage in this process (imports already paid)."""
    from loguru import logger

    logger.remove()
    from papertrade.config import load_config
    from papertrade.research.study import StudyOptions, compute_study
    from papertrade.runner import build_strategy, load_history
    from papertrade.strategies.base import checked_decide

    out: dict[str, float] = {}
    start = time.perf_counter()
    loaded = load_config(CONFIG, [])
    strategy = build_strategy(loaded)
    history, _ = load_history(loaded, strategy)
    decisions = checked_decide(strategy, history)
    out["data + decisions"] = time.perf_counter() - start
    symbols = list(dict.fromkeys([*strategy.traded_symbols(), *strategy.benchmark_symbols()]))
    for label, options in (("study (placebos, bootstrap, HAC)", StudyOptions(placebos=placebos)),
                           ("study without placebos", StudyOptions(placebos=0)),
                           ("study without bootstrap", StudyOptions(placebos=placebos,
                                                                    bootstrap=0))):
        start = time.perf_counter()
        compute_study(history, decisions, symbols, options)
        out[label] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--placebos", type=int, default=10_000)
    args = parser.parse_args()
    runs, cpus = whole_command(args.placebos, args.repeat)
    report = {
        "placebos": args.placebos,
        "papertrade study, median wall s": round(statistics.median(runs), 2),
        "runs wall s": [round(t, 2) for t in runs],
        "runs cpu s": [round(t, 2) for t in cpus],
        "load average": round(os.getloadavg()[0], 2),
        "target s": 10,
        "stages s": {k: round(v, 2) for k, v in stages(args.placebos).items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
