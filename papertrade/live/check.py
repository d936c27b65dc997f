"""``papertrade live --check``: what a live run needs, checked without trading anything.

One line per check, ``ok`` or ``FAIL`` with the fix. First what needs no request: the config,
the keys in the environment, the venue mechanism of ``testnet`` and ``demo``
(:mod:`papertrade.live.venue_check`: ``sandbox host testnet.binance.vision`` where the sandbox
is a host of its own, else why it is refused: ``okx's sandbox shares its production host
www.okx.com; demo trading is a header``; which of testnet and demo the exchange supports;
where the signals come from), the emulator URL being loopback.
When those pass, :mod:`papertrade.live.check_venue` connects as a live run would and checks
the account (a private read), the venue, every traded symbol, the minimum notional against the
cash, the clock skew and each data source; it sends no order.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from papertrade.config import BundledSource, CacheSource, LoadedConfig
from papertrade.strategies import Strategy
from papertrade.util.secrets import ENV_NAME


def live_check(loaded: LoadedConfig, strategy: Strategy, say: Callable[[str], None]) -> list[str]:
    """Print one line per check; returns the problems (empty when the run can start)."""
    run = loaded.run
    b = run.broker
    problems: list[str] = []

    def report(ok: bool, text: str, fix: str = "") -> None:
        say(f"{'ok  ' if ok else 'FAIL'} {text}" + ("" if ok or not fix else f"; fix: {fix}"))
        if not ok:
            problems.append(text)

    report(True, f"config {loaded.path}: {strategy.name}, broker.mode {b.mode}")
    if b.mode in ("testnet", "demo"):
        from papertrade.live.venue_check import venue_lines

        for env, what in ((b.api_key_env, "API key"), (b.secret_env, "API secret")):
            report(bool(os.environ.get(env)), f"{what} in {_shown(env)}",
                   f"export {env}=... ({b.mode} keys; the value is never written anywhere)")
        for ok, text, fix in venue_lines(run):
            report(ok, text, fix)
    elif b.mode == "emulator" and b.emulator.url:
        from papertrade.brokers.ccxt_emulator import make_emulator_client
        from papertrade.util.text import one_line

        try:  # builds the client only: the URL is checked, nothing is sent
            make_emulator_client(b.emulator.url, "", "")
            loopback = True
        except ValueError:
            loopback = False
        report(loopback, f"broker.emulator.url {one_line(b.emulator.url, 120)} is a loopback "
               "http(s) URL",
               "the emulator client talks to this machine only: point it at `papertrade "
               "exchange serve` (http://127.0.0.1:PORT)")
        for env in (b.emulator.api_key_env, b.emulator.secret_env):
            report(bool(os.environ.get(env)), f"emulator credential in {_shown(env)}",
                   f"export {env}=... as printed by `papertrade exchange serve`")
    else:
        report(True, "no keys needed" + (" (in-process emulator)" if b.mode == "emulator"
                                          else " (dry run: public prices, simulated fills)"))
    if b.mode != "emulator":
        for key, symbol in strategy.symbol_keys().items():
            if symbol in strategy.traded_symbols():
                continue
            source = run.data.symbols.get(symbol, BundledSource())
            report(not isinstance(source, BundledSource | CacheSource),
                   f"{key} {symbol} has a live source",
                   f"the bundled file is history only: set data.symbols.{symbol} to "
                   "{source: yfinance, ticker: ...} or {source: csv, path: ...}")
    if not problems:
        from papertrade.live.check_venue import venue_checks

        venue_checks(loaded, strategy, report)
    return problems


def _shown(env: str) -> str:
    """``$NAME`` for a variable name; never echo a value pasted where a name belongs."""
    return f"${env}" if ENV_NAME.fullmatch(env) else "(not a variable name: a pasted key?)"
