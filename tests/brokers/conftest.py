"""Fixtures of the broker tests: the real exchange emulator on port 0, in-process, driven by
:class:`~brokers.ccxt_exchange.CcxtBroker` through the real ccxt client (no ``__init__.py``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from papertrade.brokers.ccxt_exchange import CcxtBroker
from papertrade.exchange_sim.server import EmulatorServer

START = "2024-01-01T00:00:00Z"
SYMBOLS = ["BTC/USDT", "ETH/USDT"]
# distinctive credentials of a second emulator account: they must never show up in an error
KEY = "PTKEY-q7Zx3distinctive-api-key-Wv9"
SECRET = "PTSECRET-m2Kp8distinctive-secret-Yt4"

_connections: list[tuple[str, str]] = []
_recording = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording and event in ("socket.connect", "socket.getaddrinfo"):
        _connections.append((event, repr(args[1] if event == "socket.connect" else args[0])))


sys.addaudithook(_audit)


@pytest.fixture
def socket_log() -> Iterator[list[tuple[str, str]]]:
    """Every socket connect / name lookup any thread attempts while the test runs."""
    global _recording
    _connections.clear()
    _recording = True
    try:
        yield _connections
    finally:
        _recording = False


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """The emulator (BTC and ETH, step clock at 2024-01-01, 10,000 USDT) on a free port, plus
    an account with the distinctive ``KEY``/``SECRET`` and 10,000 USDT."""
    server = EmulatorServer(symbols=SYMBOLS, start=START)
    server.engine.add_account(KEY, SECRET)
    server.deposit("USDT", "10000", api_key=KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def credentials() -> tuple[str, str]:
    """The distinctive (api key, secret) of the emulator's second account."""
    return KEY, SECRET


@pytest.fixture
def broker(emulator: EmulatorServer) -> Iterator[CcxtBroker]:
    """A CcxtBroker on the emulator's session account."""
    instance = CcxtBroker.for_emulator(emulator.base_url, emulator.api_key, emulator.secret,
                                       "USDT")
    yield instance
    instance.close()
