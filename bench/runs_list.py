"""Time ``papertrade runs list`` over 500 run folders (target: under 2 s, start-up included).

    python bench/runs_list.py [--folders 500] [--repeat 7] [--keep DIR]

Builds realistic run folders with the test fixture writer (bundled data, real SQLite, real
CSVs), then copies them to 500 folders (large files hard-linked, manifest and metrics
rewritten per folder) with a realistic mix: finished backtests, running and crashed live
runs, failed runs and broken folders. Times the CLI as a subprocess and prints the median.
Falls back to ``python -m papertrade.report list`` while ``papertrade runs`` is not mounted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "report"))

import report_fixtures  # noqa: E402

LARGE = ("journal.sqlite", "equity.csv", "benchmarks.csv", "signals.csv", "trades.csv")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def build(runs_dir: Path, folders: int, seed: int = 5) -> dict[str, int]:
    """Fill ``runs_dir`` with ``folders`` run folders; returns the count per intended status."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        templates = Path(tmp)
        backtest = report_fixtures.write_run(templates / "bt")
        live = report_fixtures.write_run(templates / "live", start="2025-09-01",
                                         mode="emulator", status="running")
        broken_dir = templates / "broken"
        broken = report_fixtures.write_broken_runs(broken_dir)
        dead = _dead_pid()
        counts: dict[str, int] = {}
        broken_names = sorted(broken)
        for i in range(folders):
            roll = rng.random()
            if roll < 0.04:
                name = broken_names[i % len(broken_names)]
                target = runs_dir / f"{name[:17]}{i:04d}-{name[17:]}"
                source = broken_dir / name
                if source.is_symlink():
                    target.symlink_to(runs_dir / f"missing-{i}")
                else:
                    shutil.copytree(source, target)
                counts["broken"] = counts.get("broken", 0) + 1
                continue
            template = live if roll < 0.12 else backtest
            status = ("running" if roll < 0.08 else "crashed" if roll < 0.12
                      else "failed" if roll < 0.15 else "finished")
            mode = template.manifest["mode"] if template is live else rng.choice(
                ["backtest"] * 8 + ["testnet", "dry_run"])
            created = f"2026{1 + i % 11:02d}{1 + i % 28:02d}T{i % 24:02d}{i % 60:02d}00Z"
            if status == "running":  # created after this process started: its writer
                created = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
            name = rng.choice(["rut-breakout-rotation", "btc-trend", "eth-momentum",
                               "alt-rotation"])
            run_id = f"{created}-{name}-{mode}-{i:08x}"
            folder = runs_dir / run_id
            shutil.copytree(template.path, folder,
                            copy_function=lambda s, d: _link_or_copy(Path(s), Path(d)))
            manifest = dict(template.manifest, run_id=run_id, name=name, mode=mode,
                            status="running" if status == "crashed" else status,
                            pid=os.getpid() if status == "running" else dead,
                            created_at=f"{created[:4]}-{created[4:6]}-{created[6:8]}T"
                                       f"{created[9:11]}:{created[11:13]}:00Z",
                            error="BrokerUnavailable: timeout" if status == "failed" else None)
            (folder / "manifest.json").unlink()
            (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
            metrics = dict(template.metrics, total_return=rng.uniform(-0.6, 3.0),
                           sharpe=rng.uniform(-1, 2), max_drawdown=-rng.uniform(0.05, 0.8),
                           trades=rng.randint(0, 400))
            (folder / "metrics.json").unlink()
            (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
            counts[status] = counts.get(status, 0) + 1
    return counts


def _link_or_copy(source: Path, target: Path) -> None:
    if source.name in LARGE:
        os.link(source, target)
    else:
        shutil.copy2(source, target)


def command(runs_dir: Path) -> list[str]:
    """``papertrade runs list`` when mounted, else the module entry point."""
    exe = shutil.which("papertrade") or str(Path(sys.executable).with_name("papertrade"))
    probe = subprocess.run([exe, "runs", "--help"], capture_output=True, text=True)
    if probe.returncode == 0:
        return [exe, "runs", "list", "--runs-dir", str(runs_dir)]
    return [sys.executable, "-m", "papertrade.report", "list", "--runs-dir", str(runs_dir)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build the folders here and keep them")
    args = parser.parse_args()
    tmp = None
    if args.keep:
        runs_dir = args.keep
        runs_dir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="runs-bench-")
        runs_dir = Path(tmp.name)
    try:
        started = time.perf_counter()
        counts = build(runs_dir, args.folders)
        print(f"built {args.folders} run folders in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        cmd = command(runs_dir)
        print("timing:", " ".join(cmd[:-1]), "TMP")
        subprocess.run(cmd, capture_output=True, check=True)  # warm the OS cache once
        times: list[float] = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - t0)
        last = done.stdout.strip().splitlines()[-1]
        print(f"output ends with: {last}")
        print(f"runs list over {args.folders} folders: median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}, n={args.repeat})")
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
