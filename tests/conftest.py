"""Shared fixtures: real bundled data, real backtests in temporary run folders."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from papertrade.config import LoadedConfig, load_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
FLAGSHIP = CONFIGS / "rut_breakout_rotation.yaml"
ALTS = ["ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT",
        "AVAX/USDT", "LINK/USDT"]


def query(folder: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    """Rows of a run's journal, opened read-only (never blocks a writer)."""
    db = sqlite3.connect(f"file:{folder / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        db.row_factory = sqlite3.Row
        return list(db.execute(sql, params))
    finally:
        db.close()


@pytest.fixture(scope="session", autouse=True)
def _hermetic_data_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """An empty default data cache: downloads in ~/.cache/papertrade would replace the bundled
    bars of unpinned symbols (papertrade data) and change every expected figure."""
    import os

    previous = os.environ.get("PAPERTRADE_CACHE_DIR")
    os.environ["PAPERTRADE_CACHE_DIR"] = str(tmp_path_factory.mktemp("data-cache"))
    yield
    if previous is None:
        os.environ.pop("PAPERTRADE_CACHE_DIR", None)
    else:
        os.environ["PAPERTRADE_CACHE_DIR"] = previous


def flagship(tmp: Path, *overrides: str) -> LoadedConfig:
    """The flagship config writing its runs under ``tmp``."""
    return load_config(FLAGSHIP, [f"runs_dir={tmp}", *overrides])


@pytest.fixture(scope="session")
def flagship_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One flagship backtest with the shipped fees and slippage (no report)."""
    from papertrade.runner import run_backtest

    tmp = tmp_path_factory.mktemp("runs")
    return run_backtest(flagship(tmp), report=False).folder


@pytest.fixture(scope="session")
def frictionless_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flagship with zero fees and slippage and daily drift rebalancing (many trades)."""
    from papertrade.runner import run_backtest

    tmp = tmp_path_factory.mktemp("runs0")
    loaded = flagship(tmp, "broker.fee_bps=0", "broker.slippage_bps=0",
                      "strategy.params.rebalance.every=daily",
                      "strategy.params.rebalance.drift=0.02")
    return run_backtest(loaded, report=False).folder


@pytest.fixture
def running_emulators() -> Iterator[Callable[..., Any]]:
    """``start(**kwargs)``: an exchange emulator (``EmulatorServer`` arguments) serving on a
    free loopback port; every one started is stopped after the test."""
    from papertrade.exchange_sim.server import EmulatorServer

    started: list[EmulatorServer] = []

    def start(**kwargs: Any) -> EmulatorServer:
        server = EmulatorServer(**kwargs)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
