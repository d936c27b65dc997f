"""Run folders for the report tests: a real backtest, fixture live runs, damaged folders."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_fixtures import (
    FLAGSHIP,
    FixtureRun,
    dead_pid,
    now,
    papertrade,
    write_broken_runs,
    write_run,
)


@pytest.fixture(scope="session")
def real_backtest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flagship backtest, run once through the CLI (it writes report.html itself)."""
    runs = tmp_path_factory.mktemp("real-runs")
    done = papertrade("backtest", str(FLAGSHIP), "--set", f"runs_dir={runs}")
    assert done.returncode == 0, done.stderr
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith("_")]
    return folder


@pytest.fixture(scope="session")
def fixture_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with one of each: finished, failed, crashed, old format, broken."""
    runs = tmp_path_factory.mktemp("runs")
    write_run(runs)
    write_run(runs, start="2024-01-01", status="failed", name="failed-run",
              created=dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC))
    crashed = write_run(runs, start="2025-01-01", mode="testnet", status="running",
                        pid=dead_pid(), name="crashed-run",
                        created=dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC))
    for name in ("metrics.json", "weights.csv", "trades.csv", "equity.csv",
                 "benchmarks.csv", "signals.csv"):
        (crashed.path / name).unlink()
    write_old_format(runs)
    write_broken_runs(runs)
    return runs


def write_old_format(runs: Path) -> Path:
    """A run as an older papertrade wrote it: no format, no journal/signals/benchmarks."""
    old = write_run(runs, start="2022-01-01", name="old-run",
                    created=dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC))
    manifest = dict(old.manifest)
    manifest.pop("format")
    (old.path / "manifest.json").write_text(json.dumps(manifest))
    for name in ("journal.sqlite", "signals.csv", "benchmarks.csv"):
        (old.path / name).unlink()
    return old.path


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureRun]:
    """A running emulator run: this process is its writer, the WAL journal held open."""
    runs = tmp_path_factory.mktemp("live-runs")
    run = write_run(runs, start="2025-06-01", mode="emulator", status="running",
                    pid=os.getpid(), created=now(), name="rut-live", keep_writer=True)
    assert run.writer is not None
    yield run
    run.writer.close()


@pytest.fixture
def runs_copy(fixture_runs: Path, tmp_path: Path) -> Path:
    """A private copy of ``fixture_runs`` a test may modify."""
    target = tmp_path / "runs"
    shutil.copytree(fixture_runs, target, symlinks=True)
    return target


@pytest.fixture(scope="module")
def real_live_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``papertrade live`` run against the in-process emulator (breakout + rotation)."""
    from papertrade.config import load_config
    from papertrade.live.session import run_live
    from papertrade.runner import build_strategy

    runs = tmp_path_factory.mktemp("real-live")
    config = Path(__file__).resolve().parents[2] / "configs" / "rut_breakout_rotation.yaml"
    loaded = load_config(config, [f"runs_dir={runs}", "broker.mode=emulator",
                                  "broker.emulator.start=2020-11-01",
                                  "live.decision_delay_seconds=0"])
    return run_live(loaded, build_strategy(loaded), until=dt.date(2021, 1, 15)).folder
