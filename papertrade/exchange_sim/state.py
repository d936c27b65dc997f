"""The optional state file: accounts (keys and secrets), balances, orders, trades, the clock.

JSON, written atomically (a temporary file in the same folder, fsynced, then ``os.replace``)
with mode 0600 because it holds the session secrets: a reader sees the old file or the new one,
never a mix. The server saves it at most every ``interval`` seconds while something changed and on
stop, so a crash loses at most that interval; a restart with the same file resumes the accounts,
the order/trade ids and the emulated time where they were. :func:`load` refuses a file it cannot
resume from with one ValueError line naming the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, fields
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from loguru import logger

from papertrade.exchange_sim.accounts import Account, Order, Trade
from papertrade.exchange_sim.clock import checked_ms
from papertrade.exchange_sim.matching import MatchingEngine
from papertrade.util.text import one_line

FORMAT = 1
T = TypeVar("T", Order, Trade)


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def _record(obj: Order | Trade) -> dict[str, object]:
    return {k: _plain(v) for k, v in asdict(obj).items()}


def _rebuild(cls: type[T], data: dict[str, object]) -> T:
    values: dict[str, object] = {}
    for f in fields(cls):
        raw = data[f.name]
        values[f.name] = Decimal(str(raw)) if f.type in ("Decimal", Decimal) else raw
    return cls(**values)  # type: ignore[arg-type]


def dump(engine: MatchingEngine, clock_ms: int) -> dict[str, object]:
    """Everything needed to resume the session (call with ``engine.lock`` held)."""
    accounts = []
    for account in engine.accounts.values():
        accounts.append({
            "api_key": account.api_key,
            "secret": account.secret,
            "free": {a: str(v) for a, v in account.free.items()},
            "locked": {a: str(v) for a, v in account.locked.items()},
            "deposits": {a: str(v) for a, v in account.deposits.items()},
            "orders": [_record(o) for orders in account.orders.values() for o in orders],
            "trades": [_record(t) for trades in account.trades.values() for t in trades],
            "update_time": account.update_time,
        })
    return {
        "format": FORMAT,
        "clock_ms": clock_ms,
        "synced_until": engine.synced_until,
        "next_order_id": dict(engine.next_order_id),
        "next_trade_id": dict(engine.next_trade_id),
        "accounts": accounts,
    }


def restore(engine: MatchingEngine, data: dict[str, object]) -> None:
    """Load ``data`` (from :func:`dump`) into an empty engine."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unsupported state file format {one_line(repr(data.get('format')), 40)}")
    clock_ms(data)
    engine.synced_until = int(str(data.get("synced_until", 0)))
    engine.next_order_id.update(_int_map(data.get("next_order_id")))
    engine.next_trade_id.update(_int_map(data.get("next_trade_id")))
    raw_accounts = data.get("accounts")
    if not isinstance(raw_accounts, list):
        raise ValueError("state file has no accounts list")
    for raw in raw_accounts:
        account: Account = engine.add_account(str(raw["api_key"]), str(raw["secret"]))
        for name in ("free", "locked", "deposits"):
            target = getattr(account, name)
            for asset, amount in dict(raw.get(name, {})).items():
                target[asset] = Decimal(str(amount))
        for item in raw.get("orders", []):
            order = _rebuild(Order, item)
            account.orders[order.symbol].append(order)
            if order.is_open:
                account.open_orders[(order.symbol, order.order_id)] = order
        for item in raw.get("trades", []):
            trade = _rebuild(Trade, item)
            account.trades[trade.symbol].append(trade)
        account.update_time = int(raw.get("update_time", 0))


def clock_ms(data: dict[str, object]) -> int:
    """The saved emulated time (epoch ms); ValueError unless a whole number within the clock's
    range."""
    value = data.get("clock_ms")
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            isinstance(value, int) or value.is_integer()):
        raise ValueError(f"clock_ms is not a whole number of milliseconds: "
                         f"{one_line(repr(value), 40)}")
    return checked_ms(int(value))


def _int_map(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items()}


def read(path: Path) -> dict[str, object] | None:
    """The saved state, or None when the file does not exist yet."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a state file")
    return data


def load(engine: MatchingEngine, path: Path) -> dict[str, object] | None:
    """:func:`read` then :func:`restore` into ``engine``; the saved state, or None when there is
    no file. ValueError (one line naming ``path`` and the fix) when the file is unusable."""
    try:
        data = read(path)
        if data is not None:
            restore(engine, data)
        return data
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError,
            RecursionError) as exc:
        problem = one_line(f"{type(exc).__name__}: {exc}", 160)
        raise ValueError(f"state file {path} cannot be resumed ({problem}); move it away to "
                         "start afresh") from None


def write(path: Path, data: dict[str, object]) -> None:
    """Atomically replace ``path`` with ``data`` (mode 0600: it holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class StateSaver:
    """Background thread saving ``snapshot()`` to ``path`` when marked dirty."""

    def __init__(self, path: Path, snapshot: Callable[[], dict[str, object]],
                 interval: float = 0.5) -> None:
        self.path = path
        self._snapshot = snapshot
        self._interval = interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emulator-state", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def mark_dirty(self) -> None:
        self._dirty.set()

    def stop(self) -> None:
        """Stop the thread and write a final snapshot."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        write(self.path, self._snapshot())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if self._dirty.is_set():
                self._dirty.clear()
                try:
                    write(self.path, self._snapshot())
                except OSError as exc:  # retried on the next change; stop() raises
                    self._dirty.set()
                    logger.warning("emulator state file {} not saved: {}", self.path,
                                   one_line(str(exc)))
