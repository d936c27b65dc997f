"""Sweeps on real Dask: a local cluster, an external ``dask scheduler`` with two ``dask worker``
processes on loopback (one killed mid-sweep), Ctrl-C then ``--resume``, and walk-forward
replayed through the engine. Short windows and small grids keep it to about a minute."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from papertrade.config import load_config
from papertrade.research.engine import BacktraderEngine
from papertrade.sim import Simulator
from tests.conftest import FLAGSHIP

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
GRID = ["--grid", "strategy.params.exit.ma_days=20,50,100", "--grid", "broker.fee_bps=5,10"]
WINDOW = ["--start", "2021-01-01", "--end", "2021-04-30"]


def sweep_argv(runs: Path, *extra: str) -> list[str]:
    return [str(BIN / "papertrade"), "sweep", str(FLAGSHIP), *WINDOW, *GRID,
            "--set", f"runs_dir={runs}", "--no-progress", *extra]


def sweep_folder(runs: Path) -> Path:
    (folder,) = [p for p in runs.iterdir() if "-sweep-" in p.name]
    return folder


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The grid swept on a local cluster of two workers, uninterrupted."""
    runs = tmp_path_factory.mktemp("local")
    done = run(sweep_argv(runs, "--workers", "2"))
    assert "replay: papertrade backtest" in done.stdout
    return sweep_folder(runs)


@pytest.fixture(scope="module")
def reference_bt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same grid through the real backtest (slow enough to interrupt or kill mid-way)."""
    runs = tmp_path_factory.mktemp("local-bt")
    run(sweep_argv(runs, "--workers", "2", "--engine", "backtrader"))
    return sweep_folder(runs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dask_cluster() -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-dashboard"], **quiet)
    workers = [subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1",
                                 "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard",
                                 "--no-nanny"], **quiet) for _ in range(2)]
    from distributed import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client(address, timeout=5) as client:
                if len(client.scheduler_info()["workers"]) == 2:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the dask cluster did not come up"
        time.sleep(0.5)
    yield address, workers
    for proc in [*workers, scheduler]:
        if proc.poll() is None:
            proc.terminate()
    for proc in [*workers, scheduler]:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_local_sweep_folder(reference: Path) -> None:
    results = pd.read_csv(reference / "results.csv")
    assert list(results.columns[:3]) == ["config", "strategy.params.exit.ma_days",
                                         "broker.fee_bps"]
    assert list(results["config"]) == list(range(6))
    assert {"sharpe", "total_return", "max_drawdown", "benchmarks.BTC/USDT buy&hold.cagr"} <= set(
        results.columns)
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["mode"] == "sweep" and manifest["status"] == "finished"
    assert manifest["counts"] == {"total": 6, "done": 6, "failed": 0}
    returns = np.load(reference / "returns.npy")
    assert returns.shape[1] == 6 and list(returns[0]) == list(range(6))
    assert (reference / "report.html").is_file()


def test_a_row_replays_through_the_backtest(reference: Path, tmp_path: Path) -> None:
    """A row of the fast simulator's sweep is the real backtest's figures (backtrader)."""
    results = pd.read_csv(reference / "results.csv")
    row = results.iloc[3]
    loaded = load_config(FLAGSHIP, [f"runs_dir={tmp_path}"])
    engine = BacktraderEngine(loaded, start=dt.date(2021, 1, 1), end=dt.date(2021, 4, 30))
    out = engine.run({"strategy.params.exit.ma_days": int(row["strategy.params.exit.ma_days"]),
                      "broker.fee_bps": int(row["broker.fee_bps"])})
    assert out.metrics["end_equity"] == pytest.approx(row["end_equity"], rel=1e-9)
    assert out.metrics["sharpe"] == pytest.approx(row["sharpe"], rel=1e-9)
    assert out.metrics["trades"] == row["trades"]


def test_scheduler_sweep_equals_local_and_survives_a_killed_worker(
        reference_bt: Path, dask_cluster: tuple[str, list[subprocess.Popen[bytes]]],
        tmp_path: Path) -> None:
    address, workers = dask_cluster
    proc = subprocess.Popen(sweep_argv(tmp_path, "--scheduler", address, "--engine",
                                       "backtrader"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    results: Path | None = None
    while time.monotonic() < deadline:
        found = [p for p in tmp_path.iterdir() if "-sweep-" in p.name]
        results = found[0] / "results.csv" if found else None
        if results is not None and results.exists() and len(results.read_text().splitlines()) > 1:
            break
        time.sleep(0.05)
    assert results is not None
    workers[0].kill()  # mid-sweep: its tasks are recomputed on the other worker
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert len(results.read_text().splitlines()) == 7
    assert results.read_bytes() == (reference_bt / "results.csv").read_bytes()


def test_scheduler_sweep_with_the_simulator_equals_local(
        reference: Path, dask_cluster: tuple[str, list[subprocess.Popen[bytes]]],
        tmp_path: Path) -> None:
    run(sweep_argv(tmp_path, "--scheduler", dask_cluster[0]))
    assert (sweep_folder(tmp_path) / "results.csv").read_bytes() == (
        reference / "results.csv").read_bytes()


def test_interrupted_then_resumed_sweep_equals_uninterrupted(reference_bt: Path,
                                                            tmp_path: Path) -> None:
    proc = subprocess.Popen(sweep_argv(tmp_path, "--workers", "1", "--engine", "backtrader"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = [p for p in tmp_path.iterdir() if "-sweep-" in p.name]
        if found and (found[0] / "results.csv").exists() and len(
                (found[0] / "results.csv").read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    folder = sweep_folder(tmp_path)
    partial = pd.read_csv(folder / "results.csv")
    assert 2 <= len(partial) < 6
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "--resume" in manifest["error"]
    done = run([str(BIN / "papertrade"), "sweep", "--resume", str(folder), "--no-progress",
                "--workers", "1"])
    assert "already done" in (folder / "run.log").read_text()
    assert (folder / "results.csv").read_bytes() == (
        reference_bt / "results.csv").read_bytes()
    assert json.loads((folder / "manifest.json").read_text())["status"] == "finished"
    assert "replay:" in done.stdout


def test_walk_forward_oos_replays_as_a_fixed_schedule(tmp_path: Path) -> None:
    """The stitched out-of-sample curve is the chosen configs run one after the other through
    the simulator, each fold starting flat with the capital the previous one ended with."""
    run([str(BIN / "papertrade"), "sweep", str(FLAGSHIP), "--start", "2020-10-01", "--end",
         "2021-06-30", "--grid", "strategy.params.exit.ma_days=20,100", "--walk-forward",
         "4m:2m", "--set", f"runs_dir={tmp_path}", "--no-progress", "--workers", "2"])
    folder = sweep_folder(tmp_path)
    folds = pd.read_csv(folder / "folds.csv")
    assert len(folds) == 3 and folds["config"].notna().all()
    oos = pd.read_csv(folder / "oos_equity.csv")
    loaded = load_config(FLAGSHIP, [f"runs_dir={tmp_path}"])
    capital = float(loaded.run.broker.cash)
    replayed = []
    for fold in folds.itertuples():
        engine = Simulator(loaded, start=dt.date.fromisoformat(fold.test_start),
                           end=dt.date.fromisoformat(fold.test_end))
        key, _, value = fold.sets.partition("=")
        result = engine.run({key: int(value), "broker.cash": capital})
        replayed.append(result.equity)
        capital = float(result.equity.iloc[-1])
    stitched = pd.concat(replayed)
    assert list(oos["date"]) == [str(d)[:10] for d in stitched.index]
    np.testing.assert_allclose(oos["equity"].to_numpy(), stitched.to_numpy(), rtol=1e-9)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["out_of_sample"] is True
    assert metrics["end_equity"] == pytest.approx(capital, rel=1e-9)
    results = pd.read_csv(folder / "results.csv")
    assert list(results.columns[:2]) == ["fold", "config"] and len(results) == 6
