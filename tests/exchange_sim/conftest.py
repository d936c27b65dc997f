"""Fixtures of the exchange-emulator tests: the emulator on port 0, in-process, in a thread,
driven by the real ccxt client over loopback HTTP (this folder has no ``__init__.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from emulator_helpers import EmulatorFactory

from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.exchange_sim.server import EmulatorServer

START = "2024-01-01T00:00:00Z"
SYMBOLS = ["BTC/USDT", "ETH/USDT"]


@pytest.fixture
def emulator_factory(running_emulators: Callable[..., EmulatorServer]) -> EmulatorFactory:
    """Start emulators (defaults: BTC and ETH, step clock at 2024-01-01); all stopped after."""

    def start(**kwargs: Any) -> EmulatorServer:
        kwargs.setdefault("symbols", SYMBOLS)
        kwargs.setdefault("start", START)
        return running_emulators(**kwargs)

    return start


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> EmulatorServer:
    return emulator_factory()


@pytest.fixture
def client(emulator: EmulatorServer) -> Any:
    """A sync ccxt binance on the emulator, markets loaded."""
    exchange = make_emulator_client(emulator.base_url, emulator.api_key, emulator.secret)
    exchange.load_markets()
    return exchange
