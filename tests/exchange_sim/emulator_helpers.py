"""Helpers shared by the exchange-emulator tests (imported by name; no package)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from papertrade.exchange_sim.server import EmulatorServer

EmulatorFactory = Callable[..., EmulatorServer]

def control(server: EmulatorServer, method: str, path: str,
            payload: object | None = None) -> tuple[int, Any]:
    """Call a ``/_emulator`` control route over HTTP; (status, decoded JSON)."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(server.base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def assert_balances_consistent(server: EmulatorServer, trades: list[dict[str, Any]],
                               deposits: dict[str, Decimal]) -> None:
    """free + locked == deposits + fills - fees, per asset, from ccxt's ``fetch_my_trades``."""
    expected = {asset: Decimal(amount) for asset, amount in deposits.items()}
    for trade in trades:
        info = trade["info"]
        base = info["symbol"][: -len("USDT")]
        qty, quote = Decimal(info["qty"]), Decimal(info["quoteQty"])
        sign = 1 if info["isBuyer"] else -1
        expected[base] = expected.get(base, Decimal(0)) + sign * qty
        expected["USDT"] = expected.get("USDT", Decimal(0)) - sign * quote
        fee_asset = info["commissionAsset"]
        expected[fee_asset] = expected.get(fee_asset, Decimal(0)) - Decimal(info["commission"])
    actual = {asset: free + locked for asset, (free, locked) in server.balances().items()}
    for asset in set(expected) | set(actual):
        assert actual.get(asset, Decimal(0)) == expected.get(asset, Decimal(0)), asset
