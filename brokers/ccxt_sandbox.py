"""The mainnet guard of testnet trading: which ccxt sandboxes papertrade trusts, and how.

**A sandbox is trusted when it is a host of its own.** For the exchange's ccxt class, the hosts
of the sandbox URLs (``urls['test']``, ``{hostname}`` filled in) are compared with the hosts of
the production URLs (``urls['api']``). If any host is shared, ccxt's "sandbox" talks to the
production servers: okx, myokx and okxus switch to demo trading with a header
(``x-simulated-trading: 1``) on the production host, and weex, alpaca and gemini keep
production URLs in their sandbox set. Such a venue is refused in ``testnet`` mode (before any
request), because a request that loses the header, or takes one of those URLs, trades the real
account. The comparison is generic: a venue ccxt adds later with a same-host sandbox is refused
too.

**The allow-list** (:data:`HEADER_SANDBOXES`, empty by default) can name, per exchange, the exact
header ccxt's sandbox mode sets (``{"okx": ("x-simulated-trading", "1")}``). A listed venue is
built with a transport that checks every outgoing request and refuses, before any connection,
one that does not carry that header; an entry that does not match what ccxt sets is refused.

**Every client** must also be in sandbox mode with every ``urls['api']`` URL one of the class's
sandbox URLs (``{hostname}`` filled in with the client's own ``hostname``, so a changed hostname
is caught too). :func:`guard` checks this again before every broker call.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ccxt  # noqa: TID251
import requests
from requests.adapters import HTTPAdapter

from papertrade.errors import BrokerRejected

HEADER_SANDBOXES: Mapping[str, tuple[str, str]] = MappingProxyType({})
_OPTIONS: dict[str, Any] = {"binance": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}}}


def _flatten(urls: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, URL) of every string in a ccxt ``urls`` entry (str or nested dict)."""
    if isinstance(urls, str):
        yield path or "api", urls
    elif isinstance(urls, dict):
        for key, value in urls.items():
            yield from _flatten(value, f"{path}.{key}" if path else str(key))


def resolved_urls(client: Any, which: str = "api") -> list[tuple[str, str]]:
    """``client.urls[which]`` flattened, ``{hostname}`` replaced by the client's hostname (the
    URLs ccxt will actually request)."""
    hostname = getattr(client, "hostname", None)
    return [(key, url.replace("{hostname}", hostname) if hostname else url)
            for key, url in _flatten(client.urls.get(which))]


def _hosts(urls: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(sorted({(urlsplit(url).hostname or url).lower() for _, url in urls}))


@dataclass(frozen=True)
class Sandbox:
    """How an exchange's ccxt sandbox is reached: its hosts, those it shares with production,
    and the header ccxt's sandbox mode adds (if any)."""

    exchange_id: str
    hosts: tuple[str, ...]
    shared: tuple[str, ...]
    header: tuple[str, str] | None
    urls: frozenset[str]

    @property
    def distinct(self) -> bool:
        """Whether the sandbox is a host of its own (no host shared with production)."""
        return bool(self.hosts) and not self.shared

    def describe(self) -> str:
        """One line for ``live --check``: the mechanism, or why it is refused."""
        if self.distinct:
            return f"sandbox host {', '.join(self.hosts)}"
        plural = "s" if len(self.shared) > 1 else ""
        text = (f"refused: {self.exchange_id}'s sandbox shares its production host{plural} "
                f"{', '.join(self.shared)}")
        if self.header is not None:
            return text + f"; demo trading is a header ({self.header[0]}: {self.header[1]})"
        return text + "; requests to it reach the production servers"


class _NoSandbox(Exception):
    pass


@functools.cache
def sandbox_of(exchange_id: str) -> Sandbox:
    """The :class:`Sandbox` of a ccxt exchange class; BrokerRejected if it has none."""
    if exchange_id not in ccxt.exchanges:
        raise BrokerRejected(f"unknown ccxt exchange {exchange_id!r}", kind="not_supported")
    try:
        return _sandbox_of(exchange_id)
    except _NoSandbox:
        raise BrokerRejected(
            f"{exchange_id} has no sandbox (testnet) in ccxt, so papertrade will not trade on it;"
            f" exchanges with one: {', '.join(sandbox_exchanges())}",
            kind="not_supported") from None


def _sandbox_of(exchange_id: str) -> Sandbox:
    cls = getattr(ccxt, exchange_id)
    try:
        plain, sandboxed = cls(), cls()
        if not plain.urls.get("test"):
            raise _NoSandbox
        sandboxed.set_sandbox_mode(True)
    except (ccxt.NotSupported, TypeError):  # TypeError: ccxt on urls['test'] = None
        raise _NoSandbox from None
    before = {str(k).lower(): str(v) for k, v in (plain.headers or {}).items()}
    added = [(str(k).lower(), str(v)) for k, v in (sandboxed.headers or {}).items()
             if before.get(str(k).lower()) != str(v)]
    test_urls = resolved_urls(plain, "test")
    hosts, production = _hosts(test_urls), set(_hosts(resolved_urls(plain, "api")))
    return Sandbox(exchange_id, hosts, tuple(h for h in hosts if h in production),
                   added[0] if len(added) == 1 else None, frozenset(u for _, u in test_urls))


@functools.cache
def sandbox_exchanges() -> tuple[str, ...]:
    """The ccxt exchange ids whose sandbox is a host of its own."""
    found = []
    for exchange_id in ccxt.exchanges:
        with contextlib.suppress(Exception):  # a class that cannot be built has no sandbox
            if _sandbox_of(exchange_id).distinct:
                found.append(exchange_id)
    return tuple(found)


class HeaderRequired(HTTPAdapter):
    """A requests transport that refuses (ccxt.NotSupported, before connecting) every request
    without the header that keeps a same-host sandbox on demo trading."""

    def __init__(self, exchange_id: str, name: str, value: str) -> None:
        super().__init__()
        self.exchange_id, self.header = exchange_id, (name, value)

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        name, value = self.header
        if request.headers.get(name) != value:
            host = urlsplit(request.url or "").hostname
            raise ccxt.NotSupported(
                f"refusing a request to {host}: it lacks the header {name}: {value} that keeps "
                f"{self.exchange_id} on demo trading")
        return super().send(request, *args, **kwargs)


def enforced_header(client: Any) -> tuple[str, str] | None:
    """The header a :class:`HeaderRequired` transport enforces on ``client``, if any."""
    adapters = [client.session.get_adapter(p) for p in ("https://x", "http://x")]
    if all(isinstance(a, HeaderRequired) for a in adapters):
        headers = {a.header for a in adapters if isinstance(a, HeaderRequired)}
        if len(headers) == 1:
            return headers.pop()
    return None


def guard(client: Any, allowed: frozenset[str] | None = None,
          header: tuple[str, str] | None = None) -> None:
    """BrokerRejected unless every ``urls['api']`` URL of ``client`` (resolved) is in
    ``allowed``; with ``allowed`` None, unless sandbox mode is on, every URL is one of the
    class's sandbox URLs, and a same-host sandbox has its header enforced on every request.
    With ``header``, that header must still be enforced (:func:`enforced_header`)."""
    exchange_id = str(client.id)
    urls = resolved_urls(client)
    problems: list[str] = []
    if header is not None and enforced_header(client) != header:
        problems.append(f"the {header[0]} header is no longer enforced")
    if allowed is None:
        if not client.isSandboxModeEnabled:
            problems.append("sandbox mode off")
        sandbox = sandbox_of(exchange_id)
        allowed = sandbox.urls
        if not sandbox.distinct and (
                sandbox.header is None or enforced_header(client) != sandbox.header):
            problems.append(sandbox.describe().removeprefix("refused: "))
    problems += [f"urls['api'][{key!r}] = {url} is not a sandbox URL"
                 for key, url in urls if url not in allowed]
    if problems or not urls:
        raise BrokerRejected(f"refusing {exchange_id}: " + ("; ".join(problems) or "no API URLs"),
                             kind="not_supported")


def sandbox_client(exchange_id: str, api_key: str, secret: str, timeout_ms: int | None = None,
                   header_sandboxes: Mapping[str, tuple[str, str]] = HEADER_SANDBOXES) -> Any:
    """A ccxt client of ``exchange_id`` in sandbox mode; BrokerRejected (nothing sent) where
    there is no sandbox, or a same-host one that ``header_sandboxes`` does not name exactly."""
    sandbox = sandbox_of(exchange_id)
    entry = header_sandboxes.get(exchange_id)
    header = (entry[0].lower(), entry[1]) if entry is not None else None
    if not sandbox.distinct and (header is None or header != sandbox.header):
        raise BrokerRejected(f"{exchange_id} testnet {sandbox.describe()}; papertrade trades "
                             "only on a sandbox with a host of its own", kind="not_supported")
    client = getattr(ccxt, exchange_id)(client_config(exchange_id, api_key, secret, timeout_ms))
    client.set_sandbox_mode(True)
    if header is not None and not sandbox.distinct:
        adapter = HeaderRequired(exchange_id, *header)
        client.session.mount("https://", adapter)
        client.session.mount("http://", adapter)
    guard(client)
    return client


def mirror(client: Any, base_url: str) -> None:
    """Point every ``urls['api']`` URL of ``client`` at ``base_url``'s host, keeping each URL's
    path (a loopback mirror of the venue: ``live.market_data_url``, ``broker.testnet_url``).
    Binance's spot error table is merged into the generic one, because ccxt applies it only to
    Binance's own host names. BrokerRejected (nothing changed) unless ``base_url`` is loopback.
    """
    from papertrade.config_models import _is_loopback_url

    if not _is_loopback_url(base_url):
        raise BrokerRejected(f"refusing mirror {base_url[:120]!r} of {client.id}: not a "
                             "loopback http(s) URL", kind="not_supported")
    base = urlsplit(base_url)
    client.urls["api"] = {
        key: urlunsplit((base.scheme, base.netloc, urlsplit(url).path, "", ""))
        for key, url in resolved_urls(client)}
    client.exceptions["exact"].update((client.exceptions.get("spot") or {}).get("exact") or {})


def sandbox_mirror(exchange_id: str, api_key: str, secret: str, base_url: str,
                   timeout_ms: int | None = None) -> Any:
    """A :func:`sandbox_client` whose sandbox URLs are served by the loopback ``base_url``
    (``broker.testnet_url``): the same client, code paths and checks as on the real sandbox,
    with every URL on the mirror. BrokerRejected (nothing sent) for a non-loopback URL."""
    client = sandbox_client(exchange_id, api_key, secret, timeout_ms)
    mirror(client, base_url)
    client.enableRateLimit = False  # loopback
    return client


def client_config(exchange_id: str, api_key: str, secret: str,
                  timeout_ms: int | None = None) -> dict[str, Any]:
    """The ccxt constructor config of an order client (sandbox or demo): keys, rate limit, our
    per-exchange options (Binance: spot only) and the request timeout."""
    config: dict[str, Any] = {"apiKey": api_key, "secret": secret, "enableRateLimit": True,
                              "options": copy.deepcopy(_OPTIONS.get(exchange_id, {}))}
    if timeout_ms is not None:
        config["timeout"] = timeout_ms
    return config


def describe_sandbox(exchange_id: str) -> tuple[bool, str]:
    """(usable, one line) for ``live --check``: "sandbox host ..." or "refused: ..."; no keys,
    no request."""
    try:
        sandbox = sandbox_of(exchange_id)
    except BrokerRejected as error:
        return False, f"refused: {error}"
    problems = check_sandbox(exchange_id)
    if not problems:
        return True, sandbox.describe()
    return False, sandbox.describe() if not sandbox.distinct else f"refused: {problems[0]}"


def check_sandbox(exchange_id: str) -> list[str]:
    """Problems that stop ``exchange_id`` trading in its sandbox (empty: fine); no keys, no
    request."""
    try:
        sandbox_client(exchange_id, "", "")
    except BrokerRejected as error:
        return [str(error)]
    return []
