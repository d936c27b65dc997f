"""The ``/_emulator/...`` control routes (documented in :mod:`papertrade.exchange_sim.server`).

Every input is validated before anything changes, and a refused request changes nothing:
a 400 answer says why in one line (input cut to 300 characters). Deposits take an ``amount``
as a decimal string or a JSON number, finite, at most 8 decimals and at most
:data:`MAX_AMOUNT` in size; clock moves stay within the clock's range
(:mod:`papertrade.exchange_sim.clock`).
"""

from __future__ import annotations

import ipaddress
import json
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from loguru import logger

from papertrade.exchange_sim.accounts import Account
from papertrade.exchange_sim.faults import FaultRule
from papertrade.exchange_sim.filters import fmt
from papertrade.exchange_sim.market import Market, ReplayedSymbol
from papertrade.util.text import one_line

if TYPE_CHECKING:
    from papertrade.exchange_sim.server import EmulatorServer

MAX_AMOUNT = Decimal(10) ** 15
_ASSET = re.compile(r"^[A-Za-z0-9]{1,20}$")


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
    except (ValueError, RecursionError):
        return 400, {"error": "body is not JSON"}
    try:
        return 200, _route(emulator, method, path, data)
    except LookupError as exc:
        return 404, {"error": one_line(str(exc.args[0]) if exc.args else "not found")}
    except (ValueError, TypeError, ArithmeticError) as exc:
        return 400, {"error": one_line(str(exc)) or type(exc).__name__}
    except Exception as exc:  # a bug: answer 500, keep the connection and the server alive
        logger.opt(exception=exc).error("emulator control error on {} {}", method, path)
        return 500, {"error": f"internal error: {one_line(repr(exc))}"}


def _number_text(value: object, name: str) -> str:
    """A JSON number or numeric string as text; ValueError for anything else (null, bool...)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{name} must be a number or a decimal string, not "
                         f"{one_line(json.dumps(value), 60)}")
    return str(value)


def amount(value: object) -> Decimal:
    """A deposit amount: finite, at most 8 decimals, ``|amount| <= MAX_AMOUNT``."""
    text = _number_text(value, "amount")
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"amount {one_line(repr(text), 60)} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"amount must be finite, not {text}")
    if abs(number) > MAX_AMOUNT:
        raise ValueError(f"amount {one_line(text, 60)} is out of range (|amount| <= 1e15)")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        raise ValueError(f"amount {one_line(text, 60)} has more than 8 decimals")
    return number


def asset_name(value: object) -> str:
    """An asset name: 1 to 20 letters or digits, upper-cased."""
    if not isinstance(value, str) or not _ASSET.match(value):
        raise ValueError(f"asset must be 1 to 20 letters or digits, not "
                         f"{one_line(json.dumps(value), 60)}")
    return value.upper()


def _seconds(value: object) -> float:
    text = _number_text(value, "advance_seconds")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"advance_seconds {one_line(repr(text), 60)} is not a number") from None


def _instant(value: object) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('"to" must be ISO text or epoch milliseconds')
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError('"to" in epoch milliseconds must be a whole number')
        return int(value)
    return value


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
            emulator.clock.set(_instant(data["to"]))
        else:
            emulator.clock.advance(_seconds(data["advance_seconds"]))
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
        if api_key is not None and not isinstance(api_key, str):
            raise ValueError("api_key must be a string")
        emulator.deposit(data["asset"], data["amount"], api_key or None)
        balances = emulator.balances(api_key or None)
        return {"balances": {a: {"free": fmt(f), "locked": fmt(lk)}
                             for a, (f, lk) in balances.items()}}
    if route == ("POST", "/_emulator/reset"):
        if not isinstance(data, dict):
            raise ValueError('send {"balances": {"USDT": "10000"}, "at": "<ISO time>"} '
                             "(both optional)")
        refill, at, api_key = data.get("balances"), data.get("at"), data.get("api_key")
        restart_ids = data.get("restart_ids", False)
        if refill is not None and not isinstance(refill, dict):
            raise ValueError('balances must be an object such as {"USDT": "10000"}')
        if api_key is not None and not isinstance(api_key, str):
            raise ValueError("api_key must be a string")
        if not isinstance(restart_ids, bool):
            raise ValueError("restart_ids must be true or false")
        emulator.reset(refill, api_key or None, _instant(at) if at is not None else None,
                       restart_ids=restart_ids)
        return {"scheduled": [{"at": r[0]} for r in emulator.scheduled_resets],
                "resets": emulator.resets}
    raise LookupError(f"no control route {method} {path}")
