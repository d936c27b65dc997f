"""``papertrade exchange ...``: run the local Binance-spot emulator.

Mount with ``root.add_typer(papertrade.exchange_sim.cli.app, name="exchange")``; papertrade's
own CLI does (``papertrade exchange serve``).

Exit codes of ``serve`` (printed as one ``error: ...`` line by papertrade's CLI, which turns every
:class:`~papertrade.errors.PapertradeError` into its exit code):

- 0: stopped by Ctrl-C or SIGTERM, state file saved;
- 2: bad input (:class:`~papertrade.errors.ConfigError`): an invalid option value, a
  non-loopback ``--host`` without ``--allow-remote``, a port that cannot be bound (in use,
  privileged), a state file that cannot be resumed, or one that cannot be saved on stop.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

app = typer.Typer(
    help="A local exchange speaking Binance's spot REST API, replaying bundled daily data.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.callback()
def _exchange() -> None:
    """A local exchange speaking Binance's spot REST API (loopback, no keys needed)."""


_WHERE = "papertrade exchange serve"


def _parse_balances(items: list[str]) -> dict[str, str]:
    from papertrade.errors import ConfigError
    from papertrade.exchange_sim.control import amount as checked_amount
    from papertrade.exchange_sim.control import asset_name
    from papertrade.util.text import one_line

    balances: dict[str, str] = {}
    for item in items:
        asset, sep, amount = item.partition("=")
        if not sep or not asset.strip() or not amount.strip():
            raise ConfigError(_WHERE, "--balance", f"{one_line(repr(item), 60)} is not "
                              "ASSET=AMOUNT", "write e.g. --balance USDT=10000")
        try:
            balances[asset_name(asset.strip())] = str(checked_amount(amount.strip()))
        except ValueError as exc:
            raise ConfigError(_WHERE, "--balance", str(exc),
                              "write e.g. --balance USDT=10000") from None
    return balances


def _check_start(start: str) -> None:
    from papertrade.errors import ConfigError
    from papertrade.exchange_sim.clock import to_ms

    try:
        to_ms(start)
    except ValueError as exc:
        raise ConfigError(_WHERE, "--start", str(exc), "write e.g. --start 2024-01-01") from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (loopback unless --allow-remote).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one.")] = 0,
    symbols: Annotated[
        str, typer.Option(help="Comma-separated pairs (BTC/USDT or BTCUSDT); default: all */USDT.")
    ] = "",
    start: Annotated[
        str, typer.Option(help="Emulated start, ISO date/time in UTC (default: a year before "
                          "the last common bar).")
    ] = "",
    step: Annotated[
        bool, typer.Option("--step", help="Clock moves only via /_emulator/clock (default).")
    ] = False,
    speed: Annotated[
        float, typer.Option(help="Emulated time runs SPEED times real time (instead of --step).")
    ] = 0.0,
    state: Annotated[
        Path | None, typer.Option(help="State file: accounts, orders and clock survive restarts.")
    ] = None,
    spread_bps: Annotated[float, typer.Option(help="Bid/ask spread in basis points.")] = 0.0,
    maker_fee: Annotated[str, typer.Option(help="Maker fee rate.")] = "0.001",
    taker_fee: Annotated[str, typer.Option(help="Taker fee rate.")] = "0.001",
    partial_fill_ratio: Annotated[
        float, typer.Option(help="Fraction of a resting order filled per price crossing.")
    ] = 1.0,
    balance: Annotated[
        list[str] | None, typer.Option(help="Starting balance ASSET=AMOUNT (repeatable).")
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow binding a non-loopback interface.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the banner as one JSON line.")
    ] = False,
    log_requests: Annotated[
        bool, typer.Option("--log-requests", help="Log every request (method, path, status).")
    ] = False,
    price_scale: Annotated[
        float, typer.Option(help="Multiply replayed prices (a separate market, as a testnet).")
    ] = 1.0,
    price_scale_from: Annotated[
        str, typer.Option(help="Scale prices from this day on (default: every day).")
    ] = "",
) -> None:
    """Serve the emulator until interrupted; prints its base URL and the session's API key.

    Exit code 2 (one line) on a bad option, an unusable state file or a port that cannot be
    bound; 0 once stopped by Ctrl-C or SIGTERM.
    """
    from papertrade.errors import ConfigError
    from papertrade.exchange_sim.clock import MAX_SPEED
    from papertrade.util.text import one_line

    if step and speed:
        raise ConfigError(_WHERE, "--speed", "--step and --speed are exclusive", "pass one")
    if not (speed == 0 or 0 < speed <= MAX_SPEED):
        raise ConfigError(_WHERE, "--speed", f"must be positive and at most {MAX_SPEED:g}, "
                          f"not {speed!r}")
    if start:
        _check_start(start)
    from loguru import logger

    from papertrade.exchange_sim.server import EmulatorServer

    logger.remove()
    logger.add(sys.stderr, level="TRACE" if log_requests else "INFO")
    try:
        emulator = EmulatorServer(
            host=host,
            port=port,
            symbols=[s for s in symbols.split(",") if s.strip()] or None,
            start=start or None,
            speed=speed or None,
            spread_bps=spread_bps,
            maker_fee=maker_fee,
            taker_fee=taker_fee,
            partial_fill_ratio=partial_fill_ratio,
            balances=_parse_balances(balance or []) or None,
            state_file=state,
            allow_remote=allow_remote,
            price_scale=price_scale,
            price_scale_from=price_scale_from or None,
        )
        base_url = emulator.start()
    except (ValueError, OSError, OverflowError) as exc:
        text = one_line(str(exc) or type(exc).__name__)
        raise ConfigError(_WHERE, "--symbols" if text.startswith("no bundled data") else "",
                          text) from None

    banner = {
        "base_url": base_url,
        "api_key": emulator.api_key,
        "secret": emulator.secret,
        "clock": emulator.clock.describe(),
        "symbols": sorted(emulator.market.symbols),
    }
    if as_json:
        typer.echo(json.dumps(banner))
    else:
        clock = emulator.clock.describe()
        typer.echo(f"Binance spot emulator on {base_url}  (clock {clock['now']}, {clock['mode']})")
        typer.echo(f"  API key: {emulator.api_key}")
        typer.echo(f"  secret:  {emulator.secret}")
        typer.echo(f"  control: {base_url}/_emulator/state  (POST /_emulator/clock, /faults)")
        typer.echo("  Ctrl-C to stop.")
    sys.stdout.flush()

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        try:
            emulator.stop()
        except OSError as exc:
            raise ConfigError(_WHERE, "--state", f"state not saved: {one_line(str(exc))}",
                              "check the folder of the state file") from None
        logger.info("exchange emulator stopped")
