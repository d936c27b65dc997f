"""Signals from the real market, orders to the sandbox.

A testnet is a separate market: its prices and order books are independent of the live
exchange (BTC printing 150,535, candles frozen at 100,000). A strategy computed on its klines
decides on noise. So ``live.market_data`` chooses where the traded pairs' history comes from:

- ``mainnet`` (the default for ``testnet`` and ``demo``): the same exchange's public mainnet
  API, through the key-less, allow-listed client of :mod:`papertrade.brokers.ccxt_public`
  (``live.market_data_url`` serves it from a loopback mirror);
- ``venue`` (the default for ``emulator``, whose replay *is* the real prices): the venue's own
  klines, read by the same guarded client pointed at the sandbox or demo host (the emulator's
  own client for the emulator).

Symbols with a configured source (``data.symbols``) keep it either way. When signals come from
elsewhere than the venue, :class:`FillMarketPrices` journals beside each fill the real market's
price at that moment (``fills.market_price``); the exports show the gap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from loguru import logger

from papertrade.config_models import RunConfig
from papertrade.errors import PapertradeError
from papertrade.journal import Journal


def market_data_source(run: RunConfig) -> str:
    """``mainnet`` or ``venue``: ``live.market_data``, or the mode's default."""
    if run.live.market_data is not None:
        return run.live.market_data
    return "venue" if run.broker.mode == "emulator" else "mainnet"


def signal_venue(run: RunConfig) -> tuple[str, str | None]:
    """Where the public market-data client reads (``mainnet``, ``testnet`` or ``demo``), and
    the loopback mirror serving it, if any (``live.market_data_url`` for mainnet,
    ``broker.testnet_url`` for the testnet)."""
    mode = run.broker.mode
    venue = "mainnet" if market_data_source(run) == "mainnet" or mode == "dry_run" else mode
    mirror = run.live.market_data_url if venue == "mainnet" else (
        run.broker.testnet_url if venue == "testnet" else None)
    return venue, mirror


def signal_client(run: RunConfig) -> Callable[[], Any] | None:
    """``make_client`` of the market-data feed, or None for the mode's venue client (the
    emulator's). Built lazily, once."""
    from papertrade.brokers.ccxt_public import public_client

    if market_data_source(run) == "venue" and run.broker.mode == "emulator":
        return None
    venue, mirror = signal_venue(run)
    timeout_ms = int(run.live.request_timeout_seconds * 1000)
    cache: dict[str, Any] = {}

    def make() -> Any:
        if "client" not in cache:
            cache["client"] = public_client(run.broker.exchange, venue=venue,  # type: ignore[arg-type]
                                            base_url=mirror, timeout_ms=timeout_ms)
        return cache["client"]

    return make


def signal_label(run: RunConfig, venue_label: str) -> str:
    """The exchange named in data origins: ``binance (mainnet)`` when signals are real."""
    if market_data_source(run) == "mainnet" and run.broker.mode != "dry_run":
        return run.broker.exchange
    return venue_label


class FillMarketPrices:
    """Journals, for every new fill, the real market's price at that moment."""

    def __init__(self, journal: Journal, make_client: Callable[[], Any],
                 now: Callable[[], pd.Timestamp]) -> None:
        self.journal = journal
        self.make_client = make_client
        self.now = now

    def last_fill_id(self) -> int:
        """The id of the last fill journalled so far (0: none)."""
        return int(self.journal.rows("SELECT COALESCE(MAX(id), 0) AS n FROM fills")[0]["n"])

    def record(self, after_id: int) -> int:
        """Fetch the market's last price of the symbols filled after fill ``after_id`` (one
        request where the exchange can) and journal it beside each such fill; returns how
        many were priced. A market-data outage is a warning, never a stopped run."""
        rows = self.journal.rows("SELECT id, symbol FROM fills WHERE id > ? AND market_price "
                                 "IS NULL ORDER BY id", (after_id,))
        if not rows:
            return 0
        symbols = sorted({str(r["symbol"]) for r in rows})
        try:
            prices = self._prices(symbols)
        except (PapertradeError, Exception) as exc:  # any client failure: priced next time
            message = f"real-market price of {', '.join(symbols)} unavailable " \
                      f"({type(exc).__name__}): fills journalled without it"
            logger.warning(message)
            self.journal.event(self.now(), "warning", "market_data", message)
            self.journal.commit()
            return 0
        for row in rows:
            if row["symbol"] in prices:
                self.journal.set_market_price(int(row["id"]), prices[row["symbol"]])
        self.journal.commit()
        return sum(r["symbol"] in prices for r in rows)

    def _prices(self, symbols: list[str]) -> dict[str, float]:
        client = self.make_client()
        if len(symbols) > 1 and client.has.get("fetchTickers"):
            tickers = client.fetch_tickers(symbols)
        else:
            tickers = {s: client.fetch_ticker(s) for s in symbols}
        out = {}
        for symbol, ticker in tickers.items():
            price = ticker.get("last") or ticker.get("close")
            if price and float(price) > 0:
                out[symbol] = float(price)
        return out
