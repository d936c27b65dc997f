"""``live --check`` lines of the ``testnet`` and ``demo`` venues, checked without keys or requests.

- the chosen venue: the mechanism (``sandbox host testnet.binance.vision``, ``demo host
  demo-api.binance.com``) or why papertrade refuses it;
- which of testnet and demo the exchange supports, so a refused venue points at the other;
- where the signals come from (``live.market_data``): the key-less public client and the size
  of its allow-list, or the venue's own klines.
"""

from __future__ import annotations

from papertrade.config_models import RunConfig

Line = tuple[bool, str, str]  # ok, text, fix


def support(exchange: str) -> tuple[bool, str]:
    """(either is usable, ``binance supports: testnet yes (sandbox host ...), demo yes (demo
    host ...)``)."""
    from papertrade.brokers.ccxt_demo import describe_demo
    from papertrade.brokers.ccxt_sandbox import describe_sandbox

    parts, any_usable = [], False
    for name, (usable, line) in (("testnet", describe_sandbox(exchange)),
                                 ("demo", describe_demo(exchange))):
        parts.append(f"{name} {'yes' if usable else 'no'}"
                     + (f" ({line})" if usable else ""))
        any_usable |= usable
    return any_usable, f"{exchange} supports: {', '.join(parts)}"


def venue_lines(run: RunConfig) -> list[Line]:
    """The venue, support and market-data lines of a ``testnet``/``demo`` config."""
    from papertrade.brokers.ccxt_demo import demo_exchanges, describe_demo
    from papertrade.brokers.ccxt_sandbox import describe_sandbox

    b = run.broker
    lines: list[Line] = []
    if b.mode == "testnet":
        usable, mechanism = describe_sandbox(b.exchange)
        fix = ("papertrade trades only on a sandbox with a host of its own (binance, bybit, "
               "...)")
    else:
        usable, mechanism = describe_demo(b.exchange)
        fix = ("" if "exchanges with one" in mechanism
               else f"demo trading through ccxt: {', '.join(demo_exchanges())}")
    where = (f"; every API URL points at it, served by the mirror {b.testnet_url}"
             if b.mode == "testnet" and b.testnet_url else "; every API URL points at it")
    lines.append((usable, f"{b.exchange} {b.mode}: {mechanism.removeprefix('refused: ')}"
                  + (where if usable else ""), fix))
    lines.append((*support(b.exchange), "use an exchange with a testnet or a demo of its own "
                  "(binance, bybit, ...)"))
    lines.append(_market_data_line(run))
    return lines


def _market_data_line(run: RunConfig) -> Line:
    from papertrade.brokers.ccxt_public import public_client, public_endpoints
    from papertrade.errors import BrokerRejected
    from papertrade.live.market_data import market_data_source, signal_venue

    b = run.broker
    source = market_data_source(run)
    venue, mirror = signal_venue(run)
    try:  # builds the client only: nothing is sent
        client = public_client(b.exchange, venue=venue,  # type: ignore[arg-type]
                               base_url=mirror)
    except BrokerRejected as error:
        return False, f"signals from {b.exchange} {venue}: {error}", \
            "trade on binance or bybit, or give the traded pairs a data.symbols source"
    where = mirror or f"{b.exchange} {venue}"
    return True, (f"signals (live.market_data {source}): {where} public market data, key-less, "
                  f"GET-only allow-list of {len(public_endpoints(client))} endpoints"), ""
