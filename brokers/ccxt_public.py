"""A key-less ccxt client that can only read an exchange's public market data.

Testnet and demo runs take their signals from the real market (``live.market_data: mainnet``):
the strategy's crypto history and the reference price journalled beside every fill come from
the exchange's public mainnet API, while orders, balances and fills stay on the sandbox. The
client that reads mainnet must never be able to trade, so it is built to be harmless:

- it holds no key and no secret (and refuses to send once either is set on it later);
- every request goes through :class:`PublicOnly`, a requests transport that checks it *before
  any connection* against an allow-list: method ``GET``, a URL that is exactly one of the
  exchange class's own public GET endpoints (``api['public']['get']`` joined to
  ``urls['api']['public']``, as ccxt's ``sign`` builds them), no body, no credential header
  (``X-MBX-APIKEY``, ``X-BAPI-API-KEY``, ``Authorization``...) and no signing parameter
  (``signature``, ``timestamp``...). Anything else raises ``ccxt.NotSupported`` and never
  leaves the process;
- the allow-list is frozen when the client is built: a URL changed on the client afterwards is
  refused too.

``base_url`` (``live.market_data_url``, loopback only) serves the same paths from a local
mirror; ``venue`` builds the same guarded reader on the sandbox (``testnet``) or demo host.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import ccxt  # noqa: TID251
import requests
from requests.adapters import HTTPAdapter

from papertrade.brokers.ccxt_sandbox import mirror, resolved_urls
from papertrade.errors import BrokerRejected

Venue = Literal["mainnet", "testnet", "demo"]
PUBLIC_SECTIONS = ("public",)
_CREDENTIAL_HEADERS = ("key", "sign", "auth", "passphrase", "secret", "token")
_SIGNING_PARAMS = frozenset({"signature", "sign", "apikey", "api_key", "timestamp",
                             "recvwindow", "x-mbx-apikey", "passphrase", "secret"})
_OPTIONS: Mapping[str, dict[str, Any]] = {
    "binance": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False, "fetchMargins": False},
    "bybit": {"fetchMarkets": {"types": ["spot"]}},
}


def public_endpoints(client: Any) -> frozenset[str]:
    """The exact URLs (no query) of ``client``'s public GET endpoints, hostname filled in."""
    bases = dict(resolved_urls(client))
    allowed = set()
    for section in PUBLIC_SECTIONS:
        paths = ((client.api or {}).get(section) or {}).get("get") or {}
        base = bases.get(section)
        if base is None:
            continue
        allowed |= {f"{base}/{path}" for path in paths if "{" not in path}
    return frozenset(allowed)


class PublicOnly(HTTPAdapter):
    """A requests transport that refuses (``ccxt.NotSupported``, before connecting) any request
    that is not a credential-free GET of an allow-listed public endpoint."""

    def __init__(self, exchange_id: str, allowed: frozenset[str], client: Any) -> None:
        super().__init__()
        self.exchange_id, self.allowed, self._client = exchange_id, allowed, client

    def problem(self, request: requests.PreparedRequest) -> str:
        """Why ``request`` may not be sent (empty: it may)."""
        parts = urlsplit(request.url or "")
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        params = {k.lower() for k, _v in parse_qsl(parts.query, keep_blank_values=True)}
        credential = [h for h in request.headers
                      if any(word in h.lower() for word in _CREDENTIAL_HEADERS)]
        if request.method != "GET":
            return f"{request.method} is not a read"
        if url not in self.allowed:
            return f"{parts.path or '/'} is not one of {self.exchange_id}'s public endpoints"
        if request.body:
            return "a GET with a body"
        if credential:
            return f"it carries a credential header ({credential[0]})"
        if params & _SIGNING_PARAMS:
            return f"it carries a signing parameter ({sorted(params & _SIGNING_PARAMS)[0]})"
        if self._client.apiKey or self._client.secret:
            return "a key was set on the public market-data client"
        return ""

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        problem = self.problem(request)
        if problem:
            host = urlsplit(request.url or "").hostname
            raise ccxt.NotSupported(f"refusing a request to {host} from the public market-data "
                                    f"client: {problem}")
        return super().send(request, *args, **kwargs)


def public_client(exchange_id: str, *, venue: Venue = "mainnet", base_url: str | None = None,
                  timeout_ms: int | None = None) -> Any:
    """A key-less ccxt client of ``exchange_id`` that can only GET its public endpoints (on
    mainnet, or the sandbox/demo host with ``venue``); ``base_url`` (loopback) mirrors them.
    BrokerRejected for an unknown exchange or a venue it lacks."""
    if exchange_id not in ccxt.exchanges:
        raise BrokerRejected(f"unknown ccxt exchange {exchange_id!r}", kind="not_supported")
    config: dict[str, Any] = {"enableRateLimit": base_url is None,
                              "options": copy.deepcopy(_OPTIONS.get(exchange_id, {}))}
    if timeout_ms is not None:
        config["timeout"] = timeout_ms
    client = getattr(ccxt, exchange_id)(config)
    client.has["fetchCurrencies"] = False  # private on several venues, and not needed
    try:
        if venue == "testnet":
            client.set_sandbox_mode(True)
        elif venue == "demo":
            client.enable_demo_trading(True)
    except (ccxt.NotSupported, TypeError, KeyError):
        raise BrokerRejected(f"{exchange_id} has no {venue} in ccxt", kind="not_supported"
                             ) from None
    if base_url is not None:
        mirror(client, base_url)
    allowed = public_endpoints(client)
    if not allowed:
        raise BrokerRejected(f"{exchange_id}: papertrade finds no public GET endpoints under "
                             "urls['api']['public'] in ccxt to allow-list", kind="not_supported")
    adapter = PublicOnly(exchange_id, allowed, client)
    client.session.mount("https://", adapter)
    client.session.mount("http://", adapter)
    return client
