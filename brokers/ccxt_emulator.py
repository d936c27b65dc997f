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

The URL check is the config's (:func:`papertrade.config_models._is_loopback_url`): one parser
decision for the config, the client and the clock lookups. :func:`emulator_clock_ms` and
:func:`move_emulator_clock` talk to the emulator's control routes and raise
:class:`~papertrade.errors.BrokerUnavailable` (one line naming the URL and the fix) when it
cannot be reached.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import ccxt  # noqa: TID251

from papertrade.config_models import _is_loopback_url
from papertrade.errors import BrokerRejected, BrokerUnavailable
from papertrade.util.text import one_line

SPOT_PATHS = {"public": "/api/v3", "private": "/api/v3", "v1": "/api/v1"}
_URL_SETS = ("api", "test", "apiBackup", "demo")
_START_HINT = ("start it with `papertrade exchange serve` and set broker.emulator.url to the "
               "URL it prints (or leave broker.emulator.url unset for an in-process emulator)")


def _emulator_base(base_url: str, allow_remote: bool) -> str:
    shown = one_line(repr(base_url), 120)
    if not allow_remote and not _is_loopback_url(base_url):
        raise ValueError(f"refusing emulator URL {shown}: not a loopback http(s) URL such as "
                         "http://127.0.0.1:PORT (pass allow_remote=True)")
    parts = urlsplit(base_url)
    if (parts.scheme not in ("http", "https") or not parts.hostname
            or any(c in base_url for c in "\\@?#") or not base_url.isascii()
            or any(c.isspace() or not c.isprintable() for c in base_url)):
        raise ValueError(f"emulator URL must look like http://HOST:PORT, not {shown}")
    return f"{parts.scheme}://{parts.netloc}"


def _control(base_url: str, method: str, path: str, payload: object | None,
             timeout: float) -> Any:
    """One control-route call; BrokerUnavailable if the emulator cannot be reached, answers
    5xx or times out; BrokerRejected if whatever answers is not the emulator."""
    base = _emulator_base(base_url, allow_remote=False)
    url = base + path
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read(1 << 20))
    except urllib.error.HTTPError as error:
        detail = one_line(error.read(300).decode("utf-8", "replace"), 120)
        text = f"the exchange emulator at {base} answered {error.code} to {method} {path}"
        if error.code >= 500:
            raise BrokerUnavailable(f"{text} ({detail}); retry, or restart it") from None
        raise BrokerRejected(f"{text} ({detail}): is {base} a `papertrade exchange serve`?",
                             kind="other") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", None) or error
        raise BrokerUnavailable(f"cannot reach the exchange emulator at {base} "
                                f"({one_line(str(reason), 80)}); {_START_HINT}") from None
    except ValueError:
        raise BrokerRejected(f"the exchange emulator at {base} answered {method} {path} with "
                             f"something that is not JSON: is {base} a `papertrade exchange "
                             "serve`?", kind="other") from None


def emulator_clock_ms(base_url: str, timeout: float = 10.0) -> int:
    """The running emulator's market time (epoch ms) from ``GET /_emulator/clock``."""
    answer = _control(base_url, "GET", "/_emulator/clock", None, timeout)
    now = answer.get("now_ms") if isinstance(answer, dict) else None
    if isinstance(now, bool) or not isinstance(now, int):
        raise BrokerRejected(f"the exchange emulator at {_emulator_base(base_url, False)} "
                             "answered /_emulator/clock without now_ms", kind="other")
    return now


def move_emulator_clock(base_url: str, iso_time: str, timeout: float = 10.0) -> None:
    """Move the running emulator's market clock to ``iso_time`` (``POST /_emulator/clock``)."""
    _control(base_url, "POST", "/_emulator/clock", {"to": iso_time}, timeout)


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
    if asyncio:  # aiohttp costs a quarter of a second to import: only when asked for
        from ccxt.async_support import binance as async_binance  # noqa: TID251

        exchange_class = async_binance
    else:
        exchange_class = ccxt.binance
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
