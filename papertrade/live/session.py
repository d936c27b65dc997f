"""The composition root of live trading: wires broker, clock, feed and journal per mode.

``broker.mode`` picks the wiring, and nothing below this module branches on it:

- ``emulator``: the local exchange through the real ccxt client; a simulated clock that moves
  the emulator's market clock (an in-process emulator is started when no URL is given);
- ``testnet``: the ccxt sandbox of ``broker.exchange``, keys from the environment, real time
  (``broker.testnet_url``: the sandbox's API from a loopback mirror, on the emulator's clock
  when the mirror is the emulator);
- ``demo``: the exchange's demo trading through ccxt (``enable_demo_trading``), likewise;
- ``dry_run``: live public prices, fills simulated with the backtest's fill model, real time.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from loguru import logger

from papertrade.brokers.base import LiveBroker
from papertrade.config import LoadedConfig, RunConfig
from papertrade.errors import BrokerRejected, ConfigError, PapertradeError
from papertrade.journal import Journal
from papertrade.live import events as ev
from papertrade.live.attempts import journal_error, open_run_folder, read_manifest
from papertrade.live.clock import Clock, SimulatedClock, WallClock, utc
from papertrade.live.execution import OrderExecutor, RetryPolicy
from papertrade.live.feed import LiveMarketFeed
from papertrade.live.files import LiveFiles
from papertrade.live.loop import LiveTrader
from papertrade.live.market_data import (
    FillMarketPrices,
    market_data_source,
    signal_client,
    signal_label,
)
from papertrade.live.notify import notifier_for
from papertrade.live.resets import CapitalWatch
from papertrade.live.window import check_until, replay_start
from papertrade.rebalance import FillModel
from papertrade.runfolder import finish_manifest, run_tag
from papertrade.strategies import Strategy
from papertrade.trader import Trader
from papertrade.util.secrets import ENV_NAME, mask, masking_filter, secret_values


@dataclass
class Wiring:
    """What a mode provides to the loop."""

    broker: LiveBroker
    clock: Clock
    make_client: Callable[[], Any] | None
    exchange_label: str
    history_start: dt.date
    cleanup: Callable[[], None]


class BrokerVenue:
    """The kernel's view of a live broker: its lot sizes and minimum notional."""

    def __init__(self, broker: LiveBroker) -> None:
        self.broker = broker

    def amount_to_precision(self, symbol: str, qty: float) -> float:
        return self.broker.amount_to_precision(symbol, qty)

    def min_notional(self, symbol: str) -> float:
        return self.broker.rules(symbol).min_notional


@dataclass(frozen=True)
class LiveResult:
    """Where the live run was written and how it ended."""

    folder: Path
    decisions: int
    stop_reason: str
    metrics: dict[str, Any]


def _secret(env: str, what: str, file: str, key: str) -> str:
    if not ENV_NAME.fullmatch(env):  # a key pasted where the variable's name belongs
        raise ConfigError(file, key, f"not an environment variable name ({what})",
                          "put the NAME of a variable here and export the value in it")
    value = os.environ.get(env, "")
    if not value:
        raise ConfigError(file, key, f"environment variable {env} ({what}) is not set",
                          f"export {env}=... (the value is never written anywhere)")
    return value


def wire(loaded: LoadedConfig, strategy: Strategy, folder: Path) -> Wiring:
    """Build the mode's broker, clock and market-data client."""
    run = loaded.run
    b = run.broker
    start = replay_start(run)
    if b.mode == "emulator":
        return _wire_emulator(loaded, strategy, start)
    clock: Clock = WallClock()
    if b.mode in ("testnet", "demo"):
        from papertrade.brokers.ccxt_exchange import CcxtBroker

        key = _secret(b.api_key_env, "API key", loaded.path, "broker.api_key_env")
        secret = _secret(b.secret_env, "API secret", loaded.path, "broker.secret_env")
        timeout_ms = int(run.live.request_timeout_seconds * 1000)
        broker: LiveBroker
        if b.mode == "demo":
            broker = CcxtBroker.for_demo(b.exchange, key, secret, b.quote, timeout_ms=timeout_ms)
        else:
            broker = CcxtBroker.for_testnet(b.exchange, key, secret, b.quote,
                                            timeout_ms=timeout_ms, mirror_url=b.testnet_url)
            if b.testnet_url is not None:
                clock = _mirror_clock(b.testnet_url)
    else:
        from papertrade.brokers.paper_fill import PaperBroker

        public = _public_client(b.exchange)
        broker = PaperBroker(
            lambda symbol: float(public().fetch_ticker(symbol)["last"]),
            FillModel.from_bps(b.fee_bps, b.slippage_bps), b.quote,
            balances=_journal_balances(folder) or {b.quote: b.cash},
        )
    return Wiring(broker, clock, signal_client(run) or _public_client(b.exchange),
                  b.exchange, run.data.start or start, lambda: None)


def _mirror_clock(url: str) -> Clock:
    """The clock of a testnet mirror (``broker.testnet_url``): the emulator's market clock when
    the mirror is the emulator (a replay of months in seconds), real time otherwise."""
    try:
        clock = _emulator_clock(url)
    except BrokerRejected:  # answered, but not the emulator's control route
        return WallClock()
    logger.info("testnet mirror {} is the exchange emulator: on its market clock", url)
    return clock


def _public_client(exchange: str) -> Callable[[], Any]:
    from papertrade.data.download_ccxt import default_client

    cache: dict[str, Any] = {}

    def make() -> Any:
        if "client" not in cache:
            cache["client"] = default_client(exchange)
        return cache["client"]

    return make


def _wire_emulator(loaded: LoadedConfig, strategy: Strategy, start: dt.date) -> Wiring:
    from papertrade.brokers.ccxt_emulator import make_emulator_client
    from papertrade.brokers.ccxt_exchange import CcxtBroker

    b = loaded.run.broker
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if b.emulator.url is None:
        from papertrade.exchange_sim.server import EmulatorServer

        server = EmulatorServer(
            symbols=strategy.traded_symbols(), start=start.isoformat(),
            spread_bps=b.slippage_bps if b.emulator.spread_bps is None else b.emulator.spread_bps,
            taker_fee=str(b.fee_bps / 10_000), maker_fee=str(b.fee_bps / 10_000),
            balances={b.quote: b.cash},
        )
        url, key, secret = server.start(), server.api_key, server.secret
        cleanup = server.stop
        now = pd.Timestamp(server.clock.now_ms(), unit="ms", tz="UTC")

        def move(when: pd.Timestamp) -> None:
            server.clock.set(when.strftime("%Y-%m-%dT%H:%M:%SZ"))

        clock: Clock = SimulatedClock(now, on_move=move)
    else:
        url = b.emulator.url
        key = _secret(b.emulator.api_key_env, "emulator API key", loaded.path,
                      "broker.emulator.api_key_env")
        secret = _secret(b.emulator.secret_env, "emulator secret", loaded.path,
                         "broker.emulator.secret_env")
    timeout_ms = int(loaded.run.live.request_timeout_seconds * 1000)
    # the broker refuses a non-loopback URL before anything is sent
    broker = CcxtBroker.for_emulator(url, key, secret, b.quote, timeout_ms=timeout_ms)
    client = make_emulator_client(url, key, secret, timeout_ms=timeout_ms)
    if b.emulator.url is not None:
        clock = _emulator_clock(url)
    return Wiring(broker, clock, signal_client(loaded.run) or (lambda: client),
                  signal_label(loaded.run, "emulator"), start, cleanup)


def _emulator_clock(url: str) -> Clock:
    """The market clock of the running emulator at ``url``, moved as the run moves."""
    return SimulatedClock(_emulator_now(url), on_move=partial(_move_emulator_clock, url))


def _move_emulator_clock(url: str, when: pd.Timestamp) -> None:
    from papertrade.brokers.ccxt_emulator import move_emulator_clock

    move_emulator_clock(url, utc(when).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _emulator_now(url: str) -> pd.Timestamp:
    from papertrade.brokers.ccxt_emulator import emulator_clock_ms

    return pd.Timestamp(emulator_clock_ms(url), unit="ms", tz="UTC")


def _journal_balances(folder: Path) -> dict[str, float] | None:
    """A resumed dry run restores its simulated balances from the last fills."""
    path = folder / "journal.sqlite"
    if not path.exists():
        return None
    journal = Journal(path)
    try:
        meta = read_manifest(folder) or {}
        quote = str(meta.get("quote", "USDT"))
        balances: dict[str, float] = {quote: float(meta.get("cash", 0.0))}
        for row in journal.rows("SELECT symbol, side, qty, price, fee FROM fills"):
            base = row["symbol"].split("/")[0]
            sign = 1.0 if row["side"] == "buy" else -1.0
            balances[base] = balances.get(base, 0.0) + sign * row["qty"]
            balances[quote] -= sign * row["qty"] * row["price"] + row["fee"]
        return balances
    finally:
        journal.close()


@contextmanager
def graceful_signals(trader: LiveTrader) -> Iterator[None]:
    """SIGINT/SIGTERM stop the loop before its next decision instead of killing it.

    Only the main thread can install signal handlers (and Python runs them there); a loop run
    from another thread keeps the process's handlers and is stopped with ``request_stop``.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, _frame: object) -> None:
        trader.request_stop(f"signal {signal.Signals(signum).name}")

    for s in previous:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_live(loaded: LoadedConfig, strategy: Strategy, *, until: dt.date | None = None,
             once: bool = False, resume: Path | None = None,
             bus: ev.EventBus | None = None) -> LiveResult:
    """Run (or resume) a live paper-trading session until ``until``, ``--once`` or a stop;
    ``bus`` receives the run's :mod:`~papertrade.live.events` (the terminal view, notifiers)."""
    from papertrade.runfolder.export import export

    run: RunConfig = loaded.run
    if resume is None:
        check_until(loaded, until)
    secrets = secret_values(loaded.raw)
    notifier = notifier_for(loaded, secrets)  # a bad URL stops here, before any folder
    folder, meta = open_run_folder(loaded, strategy, resume)
    sink = logger.add(folder / "run.log", level="INFO", filter=masking_filter(secrets))
    journal = Journal(folder / "journal.sqlite")
    wiring: Wiring | None = None
    bus = bus or ev.EventBus()
    subscriptions = [bus.subscribe(notifier.reading(journal.path))] if notifier else []
    try:
        wiring = wire(loaded, strategy, folder)
        journal.set_meta({"mode": run.broker.mode, "strategy": strategy.name,
                          "quote": run.broker.quote, "cash": run.broker.cash})
        journal.commit()
        feed = LiveMarketFeed(
            symbols=list(dict.fromkeys([*strategy.symbol_keys().values(),
                                        *strategy.benchmark_symbols()])),
            traded=strategy.traded_symbols(), data=run.data,
            base_dir=Path(loaded.path).resolve().parent, start=wiring.history_start,
            cache_dir=folder / "cache", exchange_label=wiring.exchange_label,
            make_client=wiring.make_client,
        )
        stop = threading.Event()  # set by signals, the kill file or the kill switch

        def pause(seconds: float) -> None:  # a stop request cuts backoff waits short
            stop.wait(seconds)

        policy = RetryPolicy(attempts=run.live.retries, base_seconds=run.live.backoff_seconds,
                             max_seconds=run.live.backoff_max_seconds, sleep=pause)
        executor = OrderExecutor(wiring.broker, journal, policy, run.broker.quote,
                                 wiring.clock.now, bus)
        kernel = Trader.for_run(run, journal=journal, policy=strategy.rebalance,
                                venue=BrokerVenue(wiring.broker), run_tag=run_tag(folder),
                                dust_notional=run.live.dust_notional)
        trader = LiveTrader(run=run, strategy=strategy, broker=wiring.broker, feed=feed,
                            clock=wiring.clock, journal=journal, folder=folder,
                            executor=executor, kernel=kernel, stop=stop, bus=bus)

        def benchmarks() -> dict[str, pd.Series]:
            history = trader.last_history
            return history.dated_closes(strategy.benchmark_symbols()) if history else {}

        subscriptions.append(bus.subscribe(LiveFiles(
            folder, journal, traded=strategy.traded_symbols(), quote=run.broker.quote,
            cash=run.broker.cash, dust_notional=run.live.dust_notional, benchmarks=benchmarks)))
        if run.broker.mode != "dry_run":  # a simulated account has no resets, no other market
            if run.live.reset.detect:
                trader.capital = CapitalWatch(journal, run.live.reset, run.broker.quote,
                                              strategy.traded_symbols(), trader.prices)
            if market_data_source(run) == "mainnet" and wiring.make_client is not None:
                trader.market_prices = FillMarketPrices(journal, wiring.make_client,
                                                        wiring.clock.now)
        with graceful_signals(trader):
            outcome = trader.run_until(
                utc(pd.Timestamp(until)) + pd.Timedelta(days=1) if until else None, once=once)
        metrics = export(folder, journal, traded=strategy.traded_symbols(),
                         quote=run.broker.quote, benchmarks=benchmarks(), cash=run.broker.cash,
                         dust_notional=run.live.dust_notional)
        meta.update(start=metrics.get("start"), end=metrics.get("end"), data=feed.origins,
                    stop_reason=outcome.stop_reason)
        finish_manifest(folder, meta, "finished", secrets=secrets)
        end = metrics.get("end_equity")
        bus.emit(ev.Stopped(wiring.clock.now(), outcome.stop_reason, outcome.decisions,
                            float(end) if isinstance(end, int | float) else None))
        return LiveResult(folder, outcome.decisions, outcome.stop_reason, metrics)
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        finish_manifest(folder, meta, "failed", error=error, secrets=secrets)
        now = wiring.clock.now() if wiring is not None else pd.Timestamp.now(tz="UTC")
        journal_error(journal, now, error, secrets)
        code = (exc.exit_code if isinstance(exc, PapertradeError)
                else 130 if isinstance(exc, KeyboardInterrupt) else 1)
        bus.emit(ev.Crashed(now, mask(error, secrets), code))
        raise
    finally:
        for unsubscribe in subscriptions:
            unsubscribe()
        journal.close()
        if wiring is not None:
            wiring.broker.close()
            wiring.cleanup()
        if notifier is not None:
            notifier.close()
        logger.remove(sink)
