"""Live-test fixtures: an exchange emulator over the flagship's pairs, with the backtest's costs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from papertrade.config import load_config
from papertrade.exchange_sim.server import EmulatorServer
from papertrade.runner import build_strategy
from tests.conftest import FLAGSHIP


@pytest.fixture
def flagship_emulator(
    running_emulators: Callable[..., EmulatorServer],
) -> Callable[[str], EmulatorServer]:
    """``start(day)``: a running emulator replaying from ``day`` the flagship's traded pairs,
    5 bps spread, 10 bps fees, 10,000 USDT; stopped after the test."""
    traded = build_strategy(load_config(FLAGSHIP)).traded_symbols()

    def start(day: str) -> EmulatorServer:
        return running_emulators(symbols=traded, start=day, spread_bps=5.0, taker_fee="0.001",
                                 maker_fee="0.001", balances={"USDT": 10_000})

    return start
