"""The checks of ``live --check`` that talk to the venue and the data sources, trading nothing.

Each check asks the venue one read-only question, through the same wiring a live run uses
(:func:`papertrade.live.session.wire`): market data and exchange info (public), the server time
(public), and the account balances (the one private read, which proves the keys). No order,
order query, cancel or trade history endpoint is ever called.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from papertrade.config import LoadedConfig
from papertrade.errors import BrokerRejected, BrokerUnavailable, PapertradeError
from papertrade.rebalance import CASH_MARGIN
from papertrade.strategies import Strategy
from papertrade.trader import base_asset
from papertrade.util.text import one_line

#: ``report(ok, text, fix)``: prints one line and records a failure
Report = Callable[[bool, str, str], None]
#: Binance refuses a request stamped more than this ahead of its clock (-1021)
MAX_AHEAD_MS = 1000


def _why(exc: BaseException) -> str:
    return one_line(str(exc), 300)


def venue_checks(loaded: LoadedConfig, strategy: Strategy, report: Report) -> None:
    """Connect as a live run would and check account, venue, symbols, minimum notional, clock
    and data sources; every outcome goes through ``report``."""
    from papertrade.live.session import wire

    with tempfile.TemporaryDirectory(prefix="papertrade-check-") as scratch:
        try:
            wiring = wire(loaded, strategy, Path(scratch))
        except BrokerUnavailable as exc:
            report(False, f"venue unreachable: {_why(exc)}", _reach_fix(loaded))
            return
        except PapertradeError as exc:
            report(False, f"venue refused: {_why(exc)}", _reach_fix(loaded))
            return
        try:
            _checks(loaded, strategy, wiring, report)
        finally:
            wiring.broker.close()
            wiring.cleanup()


def _reach_fix(loaded: LoadedConfig) -> str:
    b = loaded.run.broker
    if b.mode == "emulator" and b.emulator.url:
        return (f"start `papertrade exchange serve` so that it listens at {b.emulator.url}, or "
                "leave broker.emulator.url unset for an in-process emulator")
    return f"check the network connection to {b.exchange}"


def _checks(loaded: LoadedConfig, strategy: Strategy, wiring: Any, report: Report) -> None:
    b = loaded.run.broker
    traded = strategy.traded_symbols()
    client = wiring.make_client() if wiring.make_client is not None else None
    if b.mode == "emulator":
        where = b.emulator.url or "in-process"
        report(True, f"venue: the papertrade exchange emulator ({where}), loopback only", "")
    # authentication: the one private read
    cash: float | None = None
    if b.mode == "dry_run":
        report(True, "account: none in a dry run (simulated fills from public prices)", "")
        cash = b.cash
    else:
        try:
            balances = wiring.broker.balances()
        except BrokerRejected as exc:
            keys = ((b.emulator.api_key_env, b.emulator.secret_env) if b.mode == "emulator"
                    else (b.api_key_env, b.secret_env))
            report(False, f"authentication (private read of the account) failed: {_why(exc)}",
                   f"export the key and secret of this venue in ${keys[0]} and ${keys[1]}"
                   + (" (as printed by `papertrade exchange serve`)" if b.mode == "emulator"
                      else " (testnet keys, not mainnet ones)"))
        except BrokerUnavailable as exc:
            report(False, f"venue unreachable: {_why(exc)}", _reach_fix(loaded))
            return
        else:
            cash = _equity(wiring.broker, balances, b.quote, traded)
            report(True, f"authenticated: the account answered a private read "
                         f"({cash:,.2f} {b.quote} of equity in the quote and traded assets)", "")
    dry = b.mode == "dry_run"
    # markets and time of the venue orders go to; a dry run fills against public prices
    venue = client if dry else wiring.broker
    markets = _markets(venue, report, wiring.exchange_label)
    if markets is None:
        return
    listed = _listed(markets, traded, wiring.exchange_label, b.mode == "emulator", report)
    if dry:
        report(True, "clock: a dry run signs no request (no receive window)", "")
    else:
        _clock(wiring.broker, report)
    weights = _data(loaded, strategy, client, listed, b.mode == "emulator", report)
    if dry:
        report(True, "minimum notional: none in a dry run (simulated fills)", "")
    elif weights is not None and cash is not None:
        _min_notional(markets, weights, cash, b.quote, wiring.exchange_label, report)


def _equity(broker: Any, balances: dict[str, tuple[float, float]], quote: str,
            traded: list[str]) -> float:
    held = {s: sum(balances.get(base_asset(s), (0.0, 0.0))) for s in traded}
    held = {s: q for s, q in held.items() if q > 0}
    prices = broker.last_prices(list(held)) if held else {}
    return float(sum(balances.get(quote, (0.0, 0.0)))
                 + sum(q * float(prices[s]) for s, q in held.items()))


def _markets(source: Any, report: Report, venue: str) -> dict[str, Any] | None:
    """The markets of a broker (``markets()``, errors translated) or of a ccxt client."""
    try:
        return dict(source.markets() if hasattr(source, "markets") else source.load_markets())
    except Exception as exc:  # ccxt's or the broker's: the exchange info did not answer
        report(False, f"{venue} exchange info did not answer: {type(exc).__name__}: "
                      f"{_why(exc)}", "check the venue's URL and status")
        return None


def _listed(markets: dict[str, Any], traded: list[str], venue: str, replay: bool,
            report: Report) -> list[str]:
    """Traded symbols the venue lists and trades. A replay lists a pair before its first bar
    (status BREAK) and trades it from then on: that is fine there, not on a real venue."""
    ok, later = [], []
    for symbol in traded:
        market = markets.get(symbol)
        if market is None:
            report(False, f"{symbol} is not listed on {venue}",
                   "trade only symbols the venue lists (see the strategy's params), or list it "
                   "(`papertrade exchange serve --symbols ...`)" if venue == "emulator" else
                   "trade only symbols the venue lists (see the strategy's params)")
        elif market.get("active") is False and replay:
            later.append(symbol)
        elif market.get("active") is False:
            report(False, f"{symbol} is listed on {venue} but not trading now",
                   "wait until the venue trades it again, or leave it out")
        else:
            ok.append(symbol)
    if ok:
        report(True, f"{len(ok)} traded symbol{'s' if len(ok) > 1 else ''} listed and trading "
                     f"on {venue}: {', '.join(ok)}", "")
    if later:
        report(True, f"listed on {venue}, trading from their first bar in the replay: "
                     f"{', '.join(later)}", "")
    return ok + later


def _clock(broker: Any, report: Report) -> None:
    try:
        before = time.time() * 1000
        server = float(broker.server_time_ms())
        after = time.time() * 1000
    except PapertradeError as exc:
        report(False, f"the venue's server time did not answer: {_why(exc)}",
               "check the venue's URL and status")
        return
    window = float(broker.receive_window_ms)
    ahead = (before + after) / 2 - server  # positive: our clock is ahead of the venue's
    ok = -window < ahead <= MAX_AHEAD_MS
    report(ok, f"clock skew {ahead:+,.0f} ms against the venue (allowed: {MAX_AHEAD_MS:,} ms "
               f"ahead, {window:,.0f} ms behind: the receive window)",
           "synchronise the system clock (e.g. `timedatectl set-ntp true`)")


def _data(loaded: LoadedConfig, strategy: Strategy, client: Any, listed: list[str],
          replay: bool, report: Report) -> pd.DataFrame | None:
    """Each data source answers; returns the strategy's weights over the available history
    (what it intends to hold), or None when the history cannot be loaded."""
    from papertrade.data.sources import load_market
    from papertrade.live.market_data import market_data_source, signal_client
    from papertrade.strategies.base import checked_decide

    signals = signal_client(loaded.run)  # the candles the strategy will read
    where = "the venue" if signals is None else \
        f"{loaded.run.broker.exchange} {market_data_source(loaded.run)} (public market data)"
    for symbol in listed:
        try:
            source = client if signals is None else signals()
            candles = source.fetch_ohlcv(symbol, loaded.run.data.timeframe, limit=2)
        except Exception as exc:
            report(False, f"{symbol} candles from {where} did not answer: "
                          f"{type(exc).__name__}: {_why(exc)}", "check the source's status")
            return None
        if not candles and not replay:  # a replay has no candle before a pair's first bar
            report(False, f"{symbol}: {where} has no candle", "check the symbol")
            return None
    if listed:
        report(True, f"candles of {len(listed)} symbol{'s' if len(listed) > 1 else ''} "
                     f"answered from {where}", "")
    try:
        history, origins = load_market(  # what the backtest of this config would load
            list(dict.fromkeys([*strategy.symbol_keys().values(),
                                *strategy.benchmark_symbols()])),
            strategy.traded_symbols(), loaded.run.data, Path(loaded.path).resolve().parent,
            loaded.path)
        weights = checked_decide(strategy, history).weights
    except PapertradeError as exc:
        report(False, f"data: {_why(exc)}", "fix the data source named above (data.symbols)")
        return None
    for symbol in [s for s in history.bars if s not in listed]:
        origin = origins.get(symbol) or {}
        native = history.native(symbol)
        last = f"last bar {native['date'].iloc[-1]:%Y-%m-%d}" if len(native) else "no bars"
        report(True, f"data {symbol}: {origin.get('source', 'source')} answered ({last})", "")
    return weights


def _min_notional(markets: dict[str, Any], weights: pd.DataFrame, cash: float, quote: str,
                  venue: str, report: Report) -> None:
    """The smallest order the strategy intends (its smallest positive weight of each symbol
    times the cash) must reach the venue's minimum notional."""
    need, worst = 0.0, ""
    for symbol in weights.columns:
        held = weights[symbol][weights[symbol] > 0]
        market = markets.get(symbol)
        if not len(held) or market is None:
            continue
        minimum = float(((market.get("limits") or {}).get("cost") or {}).get("min") or 0.0)
        weight = float(held.min())
        required = minimum / weight * (1 + CASH_MARGIN) if minimum else 0.0
        if required > need:
            need, worst = required, (f"{symbol} at {weight:.1%} of equity is "
                                     f"{cash * weight:,.2f} {quote}, against {venue}'s minimum "
                                     f"notional {minimum:,.2f} {quote}")
    if not worst:
        report(True, f"cash {cash:,.2f} {quote}: no minimum notional applies", "")
        return
    report(cash >= need, f"cash {cash:,.2f} {quote} "
                         f"{'covers' if cash >= need else 'is below'} the minimum notional of "
                         f"the intended orders (smallest: {worst})",
           f"fund the account (broker.cash, or a deposit) with at least {need:,.2f} {quote}")
