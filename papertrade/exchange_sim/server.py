"""The emulator's HTTP server and its in-process API (:class:`EmulatorServer`).

Binance routes live under ``/api/v3``; control routes, outside Binance's namespace, under
``/_emulator`` (JSON in, JSON out; never faulted):

- ``GET /_emulator/state``: clock, symbols with prices, accounts' balances, faults, counters;
- ``GET|POST /_emulator/clock``: read, or move with ``{"advance_seconds": 3600}`` or
  ``{"to": "2024-01-02T00:00:00Z"}`` (ISO text or epoch ms; never backwards);
- ``GET|POST|DELETE /_emulator/faults``: read, replace (``{"rules": [...]}``; add
  ``"append": true`` to add instead), clear;
- ``POST /_emulator/deposit``: ``{"asset": "USDT", "amount": "1000"}`` (optional ``api_key``);
- ``POST /_emulator/reset``: a testnet-style wipe of an account: open orders, order and trade
  history gone, balances refilled (``{"balances": {"USDT": "10000"}}``, default the session's
  starting deposits); ``"at"`` (ISO or epoch ms) schedules it for when the clock passes it;
  ``"restart_ids": true`` numbers orders and trades from 1 again, as a whole-testnet wipe does.

From a non-loopback client the control routes need the ``X-MBX-APIKEY`` of a session account.
Bad control input gets a 400 with one line and changes nothing; malformed HTTP (a bad
``Content-Length``, an oversized body) is refused by :mod:`~papertrade.exchange_sim.transport`.
Nothing here logs a secret, a signature or a query string.

Constructor and :meth:`EmulatorServer.start` errors are one-line ``ValueError`` (bad argument,
unusable state file) or ``OSError`` (cannot listen): ``papertrade exchange serve`` turns them
into exit code 2.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from pathlib import Path
from typing import Any

from loguru import logger

from papertrade.exchange_sim import control
from papertrade.exchange_sim import state as persistence
from papertrade.exchange_sim.accounts import Account
from papertrade.exchange_sim.binance_api import BinanceApi
from papertrade.exchange_sim.clock import MS_PER_DAY, EmulatedClock, to_ms
from papertrade.exchange_sim.errors import ApiError, unknown_status
from papertrade.exchange_sim.faults import FaultPlan, FaultRule
from papertrade.exchange_sim.filters import fmt
from papertrade.exchange_sim.market import Market
from papertrade.exchange_sim.matching import MatchingEngine
from papertrade.exchange_sim.params import ApiRequest
from papertrade.exchange_sim.transport import HttpServer
from papertrade.util.text import one_line

DEFAULT_BALANCES: dict[str, str] = {"USDT": "10000"}
_SERVER_ERROR_HTML = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n</body>\r\n</html>\r\n"
)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (name or address) is a loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _fee_rate(name: str, value: Decimal | str) -> Decimal:
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        rate = Decimal("NaN")
    if not (rate.is_finite() and 0 <= rate < 1):
        raise ValueError(f"{name} must be a rate in [0, 1) such as 0.001, not "
                         f"{one_line(repr(str(value)), 40)}")
    return rate


def default_start(market: Market) -> int:
    """00:00 UTC a year (364 days) before the last day every listed symbol still has a bar."""
    last_common = min(s.day_ms[-1] for s in market.symbols.values())
    first_common = max(s.first_ms for s in market.symbols.values())
    return max(first_common, last_common - 364 * MS_PER_DAY)


class EmulatorServer:
    """A Binance-spot-speaking exchange on loopback, replaying bundled data on an emulated clock.

    ``start()`` binds (port 0: any free port) and returns the base URL; ``stop()`` closes every
    connection and writes the state file. The session account's credentials are
    ``api_key``/``secret``; drive time with ``clock.advance(seconds)``/``clock.set(instant)``
    (resting orders fill as the clock moves) and faults with ``set_faults``.

    ``symbols``: pairs to list (default every bundled */USDT pair); ``start``: emulated start
    (default :func:`default_start`); ``speed``: None for a step clock, else emulated seconds per
    real second; ``spread_bps``, ``maker_fee``/``taker_fee``, ``partial_fill_ratio``: see
    :mod:`~papertrade.exchange_sim.matching`; ``balances``: the session account's deposits
    (default 10,000 USDT); ``state_file``: resume from / save to this JSON file;
    ``allow_remote``: permit a non-loopback ``host``; ``price_scale`` (one factor or one per
    symbol) and ``price_scale_from``: replay prices multiplied from that day on (a separate
    market, as a testnet is).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        symbols: list[str] | None = None,
        start: datetime | str | int | None = None,
        speed: float | None = None,
        spread_bps: float = 0.0,
        maker_fee: Decimal | str = "0.001",
        taker_fee: Decimal | str = "0.001",
        partial_fill_ratio: float = 1.0,
        balances: Mapping[str, Decimal | str | float] | None = None,
        state_file: Path | str | None = None,
        allow_remote: bool = False,
        price_scale: float | Mapping[str, float] = 1.0,
        price_scale_from: datetime | str | int | None = None,
    ) -> None:
        if not is_loopback_host(host) and not allow_remote:
            raise ValueError(
                f"refusing to bind {one_line(host, 80)}: the emulator binds to loopback only "
                "unless allow_remote is set (--allow-remote)"
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535 (0: any free port), not {port!r}")
        if not (math.isfinite(spread_bps) and 0 <= spread_bps <= 10_000):
            raise ValueError(f"spread_bps must be between 0 and 10000, not {spread_bps!r}")
        maker, taker = _fee_rate("maker_fee", maker_fee), _fee_rate("taker_fee", taker_fee)
        if not (math.isfinite(partial_fill_ratio) and 0 < partial_fill_ratio <= 1):
            raise ValueError(f"partial_fill_ratio must be in (0, 1], not {partial_fill_ratio!r}")
        deposits = {control.asset_name(asset): control.amount(str(amount))
                    for asset, amount in (balances or DEFAULT_BALANCES).items()}
        self.host, self.port = host, port
        self.market = Market.from_bundled(
            symbols, spread_bps, price_scale,
            to_ms(price_scale_from) if price_scale_from is not None else None)
        self.refill = dict(deposits)
        # (when, refill, api key, restart ids)
        self.scheduled_resets: list[tuple[int, dict[str, Decimal], str | None, bool]] = []
        self.resets = 0
        self.state_file = Path(state_file) if state_file else None
        start_ms = to_ms(start) if start is not None else default_start(self.market)
        self.engine = MatchingEngine(self.market, maker_fee=maker, taker_fee=taker,
                                     partial_fill_ratio=partial_fill_ratio)
        saved = persistence.load(self.engine, self.state_file) if self.state_file else None
        if saved is not None:  # resume where the session stopped (never earlier)
            saved_ms = persistence.clock_ms(saved)
            start_ms = max(start_ms, saved_ms) if start is not None else saved_ms
        self.clock = EmulatedClock(start_ms, "speed" if speed else "step", speed or 1.0)
        if saved is not None:
            if not self.engine.accounts:
                raise ValueError(f"state file {self.state_file} has no account; move it away "
                                 "to start afresh")
            self.account = next(iter(self.engine.accounts.values()))
            traded = {s for a in self.engine.accounts.values() for s in a.orders}
            missing = sorted(traded - self.market.symbols.keys())
            if missing:
                raise ValueError(f"the state file has orders on {', '.join(missing)}: "
                                 "list those symbols too")
        else:
            self.account = self.engine.add_account(secrets.token_hex(32), secrets.token_hex(32))
            for asset, amount in deposits.items():
                self.engine.deposit(self.account, asset, amount, start_ms)
        self.faults = FaultPlan()
        self.api = BinanceApi(self.market, self.engine, self.clock)
        self.requests: Counter[str] = Counter()
        self._requests_lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._saver = (persistence.StateSaver(self.state_file, self.snapshot_state)
                       if self.state_file else None)
        self.clock.on_change(self._clock_moved)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Bind and serve in a daemon thread; returns the base URL (``http://host:port``)."""
        if self._httpd is not None:
            return self.base_url
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            httpd = HttpServer((self.host.strip("[]"), self.port), self, family)
        except (OSError, OverflowError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise OSError(f"cannot listen on {self.host}:{self.port}: {one_line(reason)}; "
                          "pick another --port (0: any free port)") from None
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="emulator-http",
            daemon=True,
        )
        self._thread.start()
        if self._saver is not None:
            self._saver.start()
        logger.info("exchange emulator listening on {}", self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving, drop open connections, save the state file (once)."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.close_connections()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._saver is not None:
            self._saver.stop()

    def open_connections(self) -> int:
        """How many client connections are open now (0 when not serving)."""
        httpd = self._httpd
        return httpd.open_connections() if httpd is not None else 0

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.account.api_key

    @property
    def secret(self) -> str:
        return self.account.secret

    # ------------------------------------------------------------------ in-process control

    def set_faults(self, rules: list[FaultRule | dict[str, Any]]) -> None:
        """Replace the fault rules (``[]`` clears them); dicts as in ``POST /_emulator/faults``."""
        self.faults.set([r if isinstance(r, FaultRule) else FaultRule.from_dict(r) for r in rules])

    def deposit(self, asset: object, amount: object, api_key: str | None = None) -> None:
        """Credit (or with a negative amount, debit) an account's free balance; ValueError (and
        nothing changed) for an invalid asset or amount (see
        :func:`~papertrade.exchange_sim.control.amount`)."""
        name, value = control.asset_name(asset), control.amount(amount)
        account = self._account(api_key)
        with self.engine.lock:
            self.engine.deposit(account, name, value, self.clock.now_ms())
        self.mark_dirty()

    def reset(self, balances: Mapping[str, object] | None = None, api_key: str | None = None,
              at: datetime | str | int | None = None, *, restart_ids: bool = False) -> None:
        """Wipe an account like a testnet reset: open orders, order and trade history gone,
        balances replaced by ``balances`` (default: the session's starting deposits). With
        ``at``, when the clock passes that instant (now if it already has); with
        ``restart_ids``, order and trade ids start again (:meth:`MatchingEngine.wipe`)."""
        refill = ({control.asset_name(a): control.amount(v) for a, v in balances.items()}
                  if balances is not None else dict(self.refill))
        self._account(api_key)  # unknown key: ValueError now, not when the clock moves
        when = to_ms(at) if at is not None else self.clock.now_ms()
        with self.engine.lock:
            self.scheduled_resets.append((when, refill, api_key, restart_ids))
            self.scheduled_resets.sort(key=lambda r: r[0])
        self._clock_moved(self.clock.now_ms())

    def _run_due_resets(self, now: int) -> None:
        while self.scheduled_resets and self.scheduled_resets[0][0] <= now:
            when, refill, api_key, restart_ids = self.scheduled_resets.pop(0)
            self.engine.sync(max(when, self.engine.synced_until))
            self.engine.wipe(self._account(api_key), refill, when, restart_ids=restart_ids)
            self.resets += 1
            logger.info("emulator: account reset at {} ms", when)

    def balances(self, api_key: str | None = None) -> dict[str, tuple[Decimal, Decimal]]:
        """``{asset: (free, locked)}`` of an account (the session account by default)."""
        account = self._account(api_key)
        with self.engine.lock:
            self.engine.sync(self.clock.now_ms())
            return {a: (account.free[a], account.locked[a])
                    for a in sorted(set(account.free) | set(account.locked))}

    def state(self) -> dict[str, object]:
        """What ``GET /_emulator/state`` answers (no secrets)."""
        now = self.clock.now_ms()
        with self.engine.lock:
            self.engine.sync(now)
            accounts = [control.describe_account(a) for a in self.engine.accounts.values()]
        return {
            "clock": self.clock.describe(),
            "config": {
                "spread_bps": self.market.spread_bps,
                "maker_fee": fmt(self.engine.maker_fee),
                "taker_fee": fmt(self.engine.taker_fee),
                "partial_fill_ratio": float(self.engine.partial_fill_ratio),
                "state_file": str(self.state_file) if self.state_file else None,
            },
            "symbols": [control.describe_symbol(self.market, s, now)
                        for s in self.market.symbols.values()],
            "accounts": accounts,
            "faults": self.faults.rules(),
            "requests": self._request_counts(),
        }

    def _request_counts(self) -> dict[str, int]:
        with self._requests_lock:
            return dict(self.requests)

    def snapshot_state(self) -> dict[str, object]:
        with self.engine.lock:
            return persistence.dump(self.engine, self.clock.now_ms())

    def mark_dirty(self) -> None:
        if self._saver is not None:
            self._saver.mark_dirty()

    def _account(self, api_key: str | None) -> Account:
        account = self.engine.accounts.get(api_key) if api_key else self.account
        if account is None:
            raise ValueError("unknown api_key")
        return account

    def _clock_moved(self, now: int) -> None:
        with self.engine.lock:
            self._run_due_resets(now)
            self.engine.sync(now)
        self.mark_dirty()

    # ------------------------------------------------------------------ one Binance request

    def serve_binance(self, req: ApiRequest) -> tuple[int, object, dict[str, str], str]:
        """Status, body, extra headers and disposition (``answer``/``drop``) for ``req``."""
        with self._requests_lock:
            self.requests[f"{req.method} {req.path}"] += 1
        decision = self.faults.decide(req.method, req.path)
        if decision.delay_ms:
            self.stopping.wait(decision.delay_ms / 1000)
        fault = decision.fault
        status, body = 200, None
        if fault is None or fault.executes:
            status, body = self._execute(req)
        if fault is None:
            return status, body, {}, "answer"
        logger.trace("fault {} on {} {}", fault.kind, req.method, req.path)
        retry = {"Retry-After": str(fault.retry_after)}
        if fault.kind == "rate_limit":
            return 429, {"code": -1003, "msg": (
                "Too many requests; current limit of IP(127.0.0.1) request weight is 6000 per "
                "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
            )}, retry, "answer"
        if fault.kind == "ban":
            until = int(time.time() * 1000) + fault.retry_after * 1000
            return 418, {"code": -1003, "msg": (
                f"Way too many requests; IP(127.0.0.1) banned until {until}. "
                "Please use WebSocket Streams for live updates to avoid bans."
            )}, retry, "answer"
        if fault.kind == "server_error":
            try:
                phrase = HTTPStatus(fault.status).phrase
            except ValueError:
                phrase = "Server Error"
            html = _SERVER_ERROR_HTML.format(status=fault.status, phrase=phrase)
            return fault.status, html, {}, "answer"
        if fault.kind == "unknown_status":
            error = unknown_status()
            return error.status, error.body(), {}, "answer"
        if fault.kind == "timeout":
            self.stopping.wait(fault.latency_ms / 1000)
        return 0, None, {}, "drop"

    def _execute(self, req: ApiRequest) -> tuple[int, object]:
        try:
            body: object = self.api.handle(req)
            status = 200
        except ApiError as error:
            status, body = error.status, error.body()
        except Exception:  # a bug must not kill the connection thread silently
            logger.exception("emulator error on {} {}", req.method, req.path)
            status, body = 500, {"code": -1000, "msg": "An unknown error occurred while "
                                 "processing the request."}
        if req.method != "GET" and status == 200:
            self.mark_dirty()
        return status, body
