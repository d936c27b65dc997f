"""Fixtures of the data-layer tests: real bundled bars, a Yahoo stand-in, a loopback Binance.

The helpers live in uniquely named modules (``fake_yahoo``, ``fake_binance_klines``) that the
tests import directly; this folder has no ``__init__.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fake_binance_klines import BINANCE_NOW, FakeBinance, listing_from_csv
from fake_yahoo import YahooFake
from loguru import logger

from papertrade.data.bars import bundled_file, read_bundled

# ----------------------------------------------------------------------------- Yahoo


@pytest.fixture(scope="session")
def rut() -> pd.DataFrame:
    """The real bundled RUT bars."""
    return read_bundled("RUT")


@pytest.fixture
def yahoo(rut: pd.DataFrame) -> YahooFake:
    """Yahoo serving ^RUT from the bundled file; ``today`` is a Wednesday inside the data."""
    return YahooFake("^RUT", rut, today=dt.date(2026, 7, 15))


# ----------------------------------------------------------------------------- Binance


@pytest.fixture
def binance() -> Iterator[FakeBinance]:
    """A loopback Binance listing BTC/USDT and ETH/USDT (real bundled klines) at BINANCE_NOW."""
    listings = [
        listing_from_csv(bundled_file("BTC/USDT"), "BTC", "USDT"),
        listing_from_csv(bundled_file("ETH/USDT"), "ETH", "USDT"),
    ]
    with FakeBinance(listings, BINANCE_NOW) as server:
        yield server


# ----------------------------------------------------------------------------- logs


@pytest.fixture
def warnings_logged() -> Iterator[list[str]]:
    """Messages papertrade logs at WARNING or above (loguru) during the test."""
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(m.record["message"]), level="WARNING")
    yield messages
    logger.remove(sink)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """An empty data cache folder."""
    return tmp_path / "cache"
