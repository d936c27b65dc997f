"""The flagship's backtest beside its testnet run on the exchange emulator as the sandbox."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from papertrade.config import load_config
from papertrade.exchange_sim.server import EmulatorServer
from papertrade.live.session import run_live
from papertrade.runner import build_strategy, run_backtest
from tests.conftest import FLAGSHIP


def backtest_and_testnet(sandbox: EmulatorServer, runs_dir: Path, start: str, until: str,
                         *overrides: str) -> tuple[Path, Path]:
    """Run folders of the flagship's backtest over ``start``..``until`` and of its ``testnet``
    run over the same window, with the emulator ``sandbox`` serving the sandbox's API
    (``broker.testnet_url``, its keys in the environment meanwhile) and ``overrides``."""
    window = [f"runs_dir={runs_dir}", f"data.start={start}"]
    backtest = run_backtest(load_config(FLAGSHIP, [*window, f"data.end={until}"]),
                            report=False).folder
    patch = pytest.MonkeyPatch()
    patch.setenv("PAPERTRADE_API_KEY", sandbox.api_key)
    patch.setenv("PAPERTRADE_API_SECRET", sandbox.secret)
    try:
        loaded = load_config(FLAGSHIP, [
            *window, "broker.mode=testnet", f"broker.testnet_url={sandbox.base_url}",
            "live.decision_delay_seconds=0", *overrides])
        live = run_live(loaded, build_strategy(loaded),
                        until=dt.date.fromisoformat(until) - dt.timedelta(days=1)).folder
    finally:
        patch.undo()
    return backtest, live
