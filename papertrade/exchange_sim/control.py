"""The ``/_emulator/...`` control routes (documented in :mod:`papertrade.exchange_sim.server`)."""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING

from papertrade.exchange_sim.faults import FaultRule
from papertrade.exchange_sim.market import Market, ReplayedSymbol, fmt
from papertrade.exchange_sim.matching import Account

if TYPE_CHECKING:
    from papertrade.exchange_sim.server import EmulatorServer


def describe_account(account: Account) -> dict[str, object]:
    """An account without its secret; the key shortened to its first 6 characters."""
    assets = sorted(set(account.free) | set(account.locked))
    return {
        "api_key": account.api_key[:6] + "...",
        "balances": {a: {"free": fmt(account.free[a]), "locked": fmt(account.locked[a])}
                     for a in assets},
        "deposits": {a: fmt(v) for a, v in sorted(account.deposits.items())},
        "open_orders": len(account.open_orders),
        "orders": sum(len(v) for v in account.orders.values()),
        "trades": sum(len(v) for v in account.trades.values()),
    }


def describe_symbol(market: Market, sym: ReplayedSymbol, now: int) -> dict[str, object]:
    return {
        "symbol": sym.id,
        "status": "TRADING" if sym.is_trading(now) else "BREAK",
        "price": fmt(market.mid(sym, now)),
        "bid": fmt(market.bid(sym, now)),
        "ask": fmt(market.ask(sym, now)),
        "first_day": sym.day_ms[0],
        "last_day": sym.day_ms[-1],
        "tick_size": fmt(sym.filters.tick_size),
        "step_size": fmt(sym.filters.step_size),
        "min_notional": fmt(sym.filters.min_notional),
    }


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def handle(emulator: EmulatorServer, method: str, path: str, body: str,
           headers: dict[str, str], client: str) -> tuple[int, object]:
    """Status and JSON answer of one control request; never raises."""
    if not _is_loopback(client) and headers.get("x-mbx-apikey") not in emulator.engine.accounts:
        return 401, {"error": "control routes need the X-MBX-APIKEY of a session account"}
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        return 400, {"error": "body is not JSON"}
    try:
        return 200, _route(emulator, method, path, data)
    except LookupError as exc:
        return 404, {"error": str(exc.args[0]) if exc.args else "not found"}
    except (ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}


def _route(emulator: EmulatorServer, method: str, path: str, data: object) -> object:
    route = (method, path.rstrip("/"))
    if route == ("GET", "/_emulator/state"):
        return emulator.state()
    if route == ("GET", "/_emulator/clock"):
        return emulator.clock.describe()
    if route == ("POST", "/_emulator/clock"):
        if not isinstance(data, dict) or not ({"advance_seconds", "to"} & data.keys()):
            raise ValueError('send {"advance_seconds": N} or {"to": "<ISO time or epoch ms>"}')
        if "to" in data:
            emulator.clock.set(data["to"])
        else:
            emulator.clock.advance(float(data["advance_seconds"]))
        return emulator.clock.describe()
    if route == ("GET", "/_emulator/faults"):
        return {"rules": emulator.faults.rules()}
    if route == ("POST", "/_emulator/faults"):
        raw = data.get("rules", []) if isinstance(data, dict) else data
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            raise ValueError('send {"rules": [{"kind": ..., "route": ..., "rate": ...}, ...]}')
        rules = [FaultRule.from_dict(r) for r in raw]
        if isinstance(data, dict) and data.get("append"):
            for rule in rules:
                emulator.faults.add(rule)
        else:
            emulator.faults.set(rules)
        return {"rules": emulator.faults.rules()}
    if route == ("DELETE", "/_emulator/faults"):
        emulator.faults.set([])
        return {"rules": []}
    if route == ("POST", "/_emulator/deposit"):
        if not isinstance(data, dict) or "asset" not in data or "amount" not in data:
            raise ValueError('send {"asset": "USDT", "amount": "1000"}')
        api_key = data.get("api_key")
        emulator.deposit(str(data["asset"]), str(data["amount"]),
                         str(api_key) if api_key else None)
        balances = emulator.balances(str(api_key) if api_key else None)
        return {"balances": {a: {"free": fmt(f), "locked": fmt(lk)}
                             for a, (f, lk) in balances.items()}}
    raise LookupError(f"no control route {method} {path}")
