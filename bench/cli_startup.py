"""Time ``papertrade --help`` and ``papertrade --version`` (target: help in 0.15 s or less).

    python bench/cli_startup.py [--repeat 15]

Runs the installed console script as a subprocess (interpreter start-up included) and prints
the median and best wall time of each command, and of ``python -c pass`` for reference.
Prints the slowest imports of ``--help`` (``python -X importtime``) when the target is missed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.15


def _time(command: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - began)
    return times


def _slowest_imports(count: int = 12) -> list[str]:
    probe = ("from papertrade.cli import main\ntry:\n    main(['--help'])\n"
             "except SystemExit:\n    pass")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", probe],
                         capture_output=True, text=True, check=False).stderr
    rows = [line.split("|") for line in out.splitlines() if line.startswith("import time:")
            and "cumulative" not in line]
    rows.sort(key=lambda parts: int(parts[1]), reverse=True)
    return [f"{int(parts[1]) / 1000:7.1f} ms {parts[2].rstrip()}" for parts in rows[:count]]


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    script = shutil.which("papertrade") or str(Path(sys.executable).with_name("papertrade"))
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "papertrade --help": [script, "--help"],
        "papertrade --version": [script, "--version"],
    }
    medians = {}
    for name, command in commands.items():
        times = _time(command, args.repeat)
        medians[name] = statistics.median(times)
        print(f"{name:22} median {medians[name]:.3f} s  best {min(times):.3f} s "
              f"({args.repeat} runs)")
    ok = medians["papertrade --help"] <= TARGET_SECONDS
    print(f"target: --help <= {TARGET_SECONDS} s: {'met' if ok else 'MISSED'}")
    if not ok:
        print("slowest imports of --help (cumulative):")
        print("\n".join(_slowest_imports()))


if __name__ == "__main__":
    main()
