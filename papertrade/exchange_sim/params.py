"""A Binance REST request as the emulator reads it: the raw request, its parameters (merged,
validated with Binance's error codes) and its signature payload."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar
from urllib.parse import parse_qsl

from papertrade.exchange_sim import errors

Params = dict[str, str]
T = TypeVar("T")

_NUMBER = re.compile(errors.NUMBER_PATTERN)
_INTEGER_PATTERN = r"^[0-9]{1,20}$"
_INTEGER = re.compile(_INTEGER_PATTERN)


@dataclass
class ApiRequest:
    """One HTTP request as the router sees it (raw query and body kept for the signature)."""

    method: str
    path: str
    query: str = ""
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names


def parse_params(query: str, body: str) -> Params:
    """Query and form body merged; -1101 on a parameter sent twice."""
    params: Params = {}
    for text in (query, body):
        for name, value in parse_qsl(text, keep_blank_values=True):
            if name in params:
                raise errors.duplicate_parameter()
            params[name] = value
    return params


def signed_payload(query: str, body: str) -> str:
    """Binance's ``totalParams``: query + body, the ``signature`` parameter removed."""

    def strip(text: str) -> str:
        return "&".join(p for p in text.split("&") if p and not p.startswith("signature="))

    return strip(query) + strip(body)


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` keyed by ``secret`` (what clients send as signature)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def required_param(params: Params, name: str) -> str:
    """``params[name]``; -1102 when it is absent or empty."""
    value = params.get(name, "")
    if not value:
        raise errors.missing(name)
    return value


def _present(params: Params, name: str, required: bool) -> str | None:
    """``params[name]``, None when absent or empty; -1102 then if ``required``."""
    value = params.get(name, "")
    if not value and required:
        raise errors.missing(name)
    return value or None


def int_param(params: Params, name: str, required: bool = False) -> int | None:
    """An unsigned integer parameter (None when absent); -1100 on anything but digits."""
    value = _present(params, name, required)
    if value is None:
        return None
    if not _INTEGER.match(value):
        raise errors.illegal_characters(name, _INTEGER_PATTERN)
    return int(value)


def decimal_param(params: Params, name: str, required: bool = False) -> Decimal | None:
    """A decimal parameter (None when absent); -1100 on a malformed number, -1111 beyond 8
    decimals."""
    value = _present(params, name, required)
    if value is None:
        return None
    if not _NUMBER.match(value):
        raise errors.illegal_characters(name)
    number = Decimal(value)
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        raise errors.too_much_precision(name)
    return number


def limit_param(params: Params, default: int, maximum: int) -> int:
    """``limit``, ``default`` when absent; -1130 outside 1..``maximum``."""
    limit = int_param(params, "limit")
    if limit is None:
        return default
    if limit < 1 or limit > maximum:
        raise errors.invalid_parameter("limit")
    return limit


def time_window(items: list[T], time_of: Callable[[T], int], params: Params,
                from_start: bool) -> list[T]:
    """Binance's time window + limit: from ``startTime`` (or an id) the oldest ``limit``,
    otherwise the newest ``limit`` items."""
    start, end = int_param(params, "startTime"), int_param(params, "endTime")
    limit = limit_param(params, default=500, maximum=1000)
    if start is not None:
        items = [i for i in items if time_of(i) >= start]
    if end is not None:
        items = [i for i in items if time_of(i) <= end]
    if from_start or start is not None:
        return items[:limit]
    return items[-limit:]
