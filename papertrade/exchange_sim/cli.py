"""``papertrade exchange ...``: run the local Binance-spot emulator.

Mount with ``root.add_typer(papertrade.exchange_sim.cli.app, name="exchange")``.
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
)


@app.callback()
def _exchange() -> None:
    """A local exchange speaking Binance's spot REST API (loopback, no keys needed)."""


def _parse_balances(items: list[str]) -> dict[str, str]:
    balances: dict[str, str] = {}
    for item in items:
        asset, sep, amount = item.partition("=")
        if not sep or not asset.strip() or not amount.strip():
            raise typer.BadParameter(f"{item!r}: write ASSET=AMOUNT, e.g. USDT=10000")
        balances[asset.strip().upper()] = amount.strip()
    return balances


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
) -> None:
    """Serve the emulator until interrupted; prints its base URL and the session's API key."""
    if step and speed:
        raise typer.BadParameter("--step and --speed are exclusive")
    if speed < 0:
        raise typer.BadParameter("--speed must be positive")
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
        )
        base_url = emulator.start()
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

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
        emulator.stop()
        logger.info("exchange emulator stopped")
