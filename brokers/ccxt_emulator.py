"""A ccxt ``binance`` client wired to the local exchange emulator (``papertrade exchange serve``).

The client is the real ccxt one (signing, HTTP, parsing, precision); only its URLs change:

- sandbox mode on first (so ccxt takes Binance's testnet code paths: spot only, no sapi);
- spot markets only (``fetchMarkets.types = ['spot']``), rate limiter off (loopback);
- every ``urls['api']`` entry, and the ``test``/``apiBackup``/``demo`` copies ccxt could switch
  back to, points at the emulator: spot keys at ``/api/v3`` and ``/api/v1``, the futures keys at
  their own paths (which the emulator refuses with -1020) so that no call can leave the machine;
  the result is verified and any URL elsewhere raises;
- Binance's spot error table merged into the generic one: ccxt applies it only for requests to
  Binance's own host names, and the emulator's host is not one of them.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import ccxt  # noqa: TID251
import ccxt.async_support  # noqa: TID251

SPOT_PATHS = {"public": "/api/v3", "private": "/api/v3", "v1": "/api/v1"}
_URL_SETS = ("api", "test", "apiBackup", "demo")


def _emulator_base(base_url: str, allow_remote: bool) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"emulator URL must look like http://127.0.0.1:PORT, not {base_url!r}")
    host = parts.hostname
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if not loopback and not allow_remote:
        raise ValueError(
            f"refusing emulator URL {base_url!r}: not a loopback host (pass allow_remote=True)"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _redirect(urls: dict[str, Any], base: str) -> dict[str, str]:
    redirected: dict[str, str] = {}
    for key, value in urls.items():
        path = SPOT_PATHS.get(key) or urlsplit(str(value)).path or "/"
        redirected[key] = base + path
    for key, path in SPOT_PATHS.items():
        redirected.setdefault(key, base + path)
    return redirected


def verify_urls(exchange: Any, base_url: str) -> None:
    """Raise ValueError unless every API URL of ``exchange`` starts with ``base_url``."""
    base = base_url.rstrip("/") + "/"
    for name in _URL_SETS:
        urls = exchange.urls.get(name)
        if urls is None:
            continue
        values = urls.items() if isinstance(urls, dict) else [(name, urls)]
        for key, url in values:
            if not isinstance(url, str) or not url.startswith(base):
                raise ValueError(f"ccxt urls[{name!r}][{key!r}] = {url!r} does not point at "
                                 f"the emulator {base_url}")


def make_emulator_client(
    base_url: str,
    api_key: str,
    secret: str,
    *,
    asyncio: bool = False,
    allow_remote: bool = False,
    timeout_ms: int | None = None,
    **options: Any,
) -> Any:
    """A ``ccxt.binance`` (``ccxt.async_support.binance`` with ``asyncio=True``) for the emulator.

    ``options`` are merged into the ccxt instance's ``options`` (e.g. ``recvWindow=5000``);
    ``timeout_ms`` sets ccxt's request timeout. Refuses a non-loopback ``base_url`` unless
    ``allow_remote``. The caller closes an async client (``await client.close()``).
    """
    base = _emulator_base(base_url, allow_remote)
    ccxt_options: dict[str, Any] = {
        "defaultType": "spot",
        "fetchMarkets": {"types": ["spot"]},
        "fetchCurrencies": False,
        "fetchMargins": False,
        "adjustForTimeDifference": False,
    }
    ccxt_options.update(options)
    config: dict[str, Any] = {
        "apiKey": api_key,
        "secret": secret,
        "enableRateLimit": False,
        "options": ccxt_options,
    }
    if timeout_ms is not None:
        config["timeout"] = timeout_ms
    exchange_class = ccxt.async_support.binance if asyncio else ccxt.binance
    exchange = exchange_class(config)
    exchange.set_sandbox_mode(True)
    for name in _URL_SETS:
        urls = exchange.urls.get(name)
        if isinstance(urls, dict):
            exchange.urls[name] = _redirect(urls, base)
        elif isinstance(urls, str):
            exchange.urls[name] = base + SPOT_PATHS["public"]
    verify_urls(exchange, base)

    exceptions = dict(exchange.exceptions)
    spot = exceptions.get("spot", {})
    exceptions["exact"] = {**exceptions.get("exact", {}), **spot.get("exact", {})}
    exceptions["broad"] = {**exceptions.get("broad", {}), **spot.get("broad", {})}
    exchange.exceptions = exceptions
    return exchange
