"""The mainnet guard of demo trading (``broker.mode: demo``): ccxt's ``enable_demo_trading``.

Several exchanges now run a demo-trading environment with realistic prices (Binance spot demo
at demo-api.binance.com, Bybit demo at api-demo.bybit.com). ccxt reaches it with
``enable_demo_trading(True)``, which swaps ``urls['api']`` for the class's demo set
(``urls['demo']``, Bybit's ``urls['demotrading']``).

The guard is the testnet's (:mod:`papertrade.brokers.ccxt_sandbox`), applied to demo URLs:

- **the class's own demo URLs** are those ccxt itself installs: a fresh client of the class,
  demo trading enabled, ``urls['api']`` resolved (``{hostname}`` filled in). An exchange whose
  demo set is empty has no demo;
- **a demo is trusted when it is a host of its own**: a demo host shared with production (a
  header on the real host, as bitget's paper trading is) is refused, for the reason the
  testnet refuses okx;
- **every client** must have demo trading on, sandbox mode off, and every ``urls['api']`` URL
  (resolved with the client's own hostname) one of the class's demo URLs; :func:`guard_demo`
  runs before the broker's first call and the broker re-checks its URLs before every call.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any

import ccxt  # noqa: TID251

from papertrade.brokers.ccxt_sandbox import client_config, resolved_urls
from papertrade.errors import BrokerRejected


@dataclass(frozen=True)
class Demo:
    """An exchange's ccxt demo-trading environment: its URLs and hosts, and the hosts it
    shares with production."""

    exchange_id: str
    urls: frozenset[str]
    hosts: tuple[str, ...]
    shared: tuple[str, ...]

    @property
    def distinct(self) -> bool:
        """Whether the demo is a host of its own (no host shared with production)."""
        return bool(self.hosts) and not self.shared

    def describe(self) -> str:
        """One line for ``live --check``."""
        if self.distinct:
            return f"demo host {', '.join(self.hosts)}"
        return (f"refused: {self.exchange_id}'s demo shares its production host "
                f"{', '.join(self.shared)}; requests to it reach the production servers")


def _hosts(urls: list[tuple[str, str]]) -> tuple[str, ...]:
    from urllib.parse import urlsplit

    return tuple(sorted({(urlsplit(u).hostname or u).lower() for _, u in urls}))


def _demo_client(exchange_id: str, config: dict[str, Any] | None = None) -> Any:
    client = getattr(ccxt, exchange_id)(config or {})
    client.enable_demo_trading(True)
    return client


@functools.cache
def demo_of(exchange_id: str) -> Demo:
    """The :class:`Demo` of a ccxt exchange class; BrokerRejected if it has none."""
    if exchange_id not in ccxt.exchanges:
        raise BrokerRejected(f"unknown ccxt exchange {exchange_id!r}", kind="not_supported")
    try:
        plain, demo = getattr(ccxt, exchange_id)(), _demo_client(exchange_id)
        urls = resolved_urls(demo)
    except (ccxt.NotSupported, TypeError, KeyError, AttributeError):
        urls = []
    if not urls:
        raise BrokerRejected(
            f"{exchange_id} has no demo trading in ccxt; exchanges with one: "
            f"{', '.join(demo_exchanges())}", kind="not_supported")
    hosts, production = _hosts(urls), set(_hosts(resolved_urls(plain)))
    return Demo(exchange_id, frozenset(u for _, u in urls), hosts,
                tuple(h for h in hosts if h in production))


@functools.cache
def demo_exchanges() -> tuple[str, ...]:
    """The ccxt exchange ids whose demo trading is a host of its own."""
    found = []
    for exchange_id in ccxt.exchanges:
        with contextlib.suppress(Exception):  # a class that cannot be built has no demo
            client = _demo_client(exchange_id)
            urls = resolved_urls(client)
            production = set(_hosts(resolved_urls(getattr(ccxt, exchange_id)())))
            if urls and not set(_hosts(urls)) & production:
                found.append(exchange_id)
    return tuple(found)


def guard_demo(client: Any) -> None:
    """BrokerRejected unless ``client`` has demo trading on, sandbox mode off, a demo with a
    host of its own, and every ``urls['api']`` URL (resolved) one of its class's demo URLs."""
    exchange_id = str(client.id)
    demo = demo_of(exchange_id)
    problems: list[str] = []
    if not demo.distinct:
        problems.append(demo.describe().removeprefix("refused: "))
    if not (client.options or {}).get("enableDemoTrading"):
        problems.append("demo trading off")
    if client.isSandboxModeEnabled:
        problems.append("sandbox mode on")
    urls = resolved_urls(client)
    problems += [f"urls['api'][{key!r}] = {url} is not a demo URL"
                 for key, url in urls if url not in demo.urls]
    if problems or not urls:
        raise BrokerRejected(f"refusing {exchange_id} demo: "
                             + ("; ".join(problems) or "no API URLs"), kind="not_supported")


def demo_client(exchange_id: str, api_key: str, secret: str,
                timeout_ms: int | None = None) -> Any:
    """A ccxt client of ``exchange_id`` in demo-trading mode, guarded; BrokerRejected
    (nothing sent) where ccxt has no demo or it shares a production host."""
    demo = demo_of(exchange_id)
    if not demo.distinct:
        raise BrokerRejected(demo.describe().removeprefix("refused: "), kind="not_supported")
    client = _demo_client(exchange_id, client_config(exchange_id, api_key, secret, timeout_ms))
    guard_demo(client)
    return client


def describe_demo(exchange_id: str) -> tuple[bool, str]:
    """(usable, one line) for ``live --check``: "demo host ..." or "refused: ..."; no keys,
    no request."""
    try:
        demo = demo_of(exchange_id)
    except BrokerRejected as error:
        return False, f"refused: {error}"
    try:
        demo_client(exchange_id, "", "")
    except BrokerRejected as error:
        return False, f"refused: {error}"
    return True, demo.describe()
