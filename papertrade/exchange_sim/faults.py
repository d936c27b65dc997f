"""Faults on demand: per route and rate, seedable, applied before or after the real handler.

A rule is JSON (``POST /_emulator/faults``) or a :class:`FaultRule`::

    {"route": "POST /api/v3/order", "kind": "response_lost", "rate": 0.5, "seed": 7, "count": 3}

``route`` is a glob matched against ``"METHOD /path"`` when it contains a space, else against the
path (``"*"``: every Binance route; control routes are never faulted). ``rate`` is the chance a
matching request is hit, drawn from the rule's own ``random.Random(seed)``, so a given request
sequence always meets the same faults. ``count`` caps how many times the rule fires.

Kinds and what the client sees (ccxt's exception in brackets):

- ``latency``: answer after ``latency_ms`` more (combines with the others);
- ``timeout``: hold the connection ``latency_ms`` (default 30 s) then close it unanswered
  [``RequestTimeout`` once the client's timeout is shorter];
- ``rate_limit``: HTTP 429, -1003, ``Retry-After`` [``DDoSProtection``/``RateLimitExceeded``];
- ``ban``: HTTP 418, -1003, ``Retry-After``; every Binance request is refused until it passes
  [``DDoSProtection``];
- ``server_error``: HTTP ``status`` (default 502) with an HTML body [``ExchangeNotAvailable``];
- ``unknown_status``: HTTP 503, -1007 "execution status unknown" [``RequestTimeout``];
- ``response_lost``: the connection is closed without an answer [``NetworkError``].

``execute`` says whether the request is carried out before the fault answer; by default only
``unknown_status`` and ``response_lost`` execute it (an order is then placed although the
client never learns it), the others refuse it.
"""

from __future__ import annotations

import fnmatch
import math
import random
import threading
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

from papertrade.exchange_sim.clock import wall_ms
from papertrade.util.text import one_line

FaultKind = Literal[
    "latency", "timeout", "rate_limit", "ban", "server_error", "unknown_status", "response_lost"
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_EXECUTING_KINDS = ("unknown_status", "response_lost")
_FIELDS = ("kind", "route", "rate", "seed", "latency_ms", "retry_after", "status", "count",
           "execute")
MAX_LATENCY_MS = 600_000
MAX_RETRY_AFTER = 86_400
MAX_ROUTE = 200


@dataclass
class FaultRule:
    """One fault: which requests (``route``, ``rate``), what happens (``kind`` and options)."""

    kind: FaultKind
    route: str = "*"
    rate: float = 1.0
    seed: int = 0
    latency_ms: int = 0
    retry_after: int = 1
    status: int = 502
    count: int | None = None
    execute: bool | None = None
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {one_line(repr(self.kind), 60)}; one of "
                             f"{', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        if len(self.route) > MAX_ROUTE:
            raise ValueError(f"fault route must be at most {MAX_ROUTE} characters")
        if self.kind == "server_error" and not 500 <= self.status <= 599:
            raise ValueError("server_error status must be 5xx")
        if self.kind == "timeout" and self.latency_ms <= 0:
            self.latency_ms = 30_000
        if not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be between 0 and {MAX_LATENCY_MS}")
        if not 0 <= self.retry_after <= MAX_RETRY_AFTER:
            raise ValueError(f"retry_after must be between 0 and {MAX_RETRY_AFTER}")
        self._rng = random.Random(self.seed)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FaultRule:
        """A rule from JSON; ValueError naming an unknown or ill-typed field."""
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown fault field(s): {one_line(', '.join(unknown), 200)}")
        if "kind" not in data:
            raise ValueError("a fault rule needs a 'kind'")
        try:
            return cls(
                kind=cast(FaultKind, str(data["kind"])),
                route=str(data.get("route", "*")),
                rate=float(cast(float, data.get("rate", 1.0))),
                seed=int(cast(int, data.get("seed", 0))),
                latency_ms=int(cast(int, data.get("latency_ms", 0))),
                retry_after=int(cast(int, data.get("retry_after", 1))),
                status=int(cast(int, data.get("status", 502))),
                count=None if data.get("count") is None else int(cast(int, data["count"])),
                execute=None if data.get("execute") is None else bool(data["execute"]),
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"bad fault rule: {one_line(str(exc), 200)}") from None

    @property
    def executes(self) -> bool:
        """Whether the request is carried out before the fault answer."""
        return self.execute if self.execute is not None else self.kind in _EXECUTING_KINDS

    def matches(self, method: str, path: str) -> bool:
        target = f"{method} {path}" if " " in self.route else path
        return fnmatch.fnmatchcase(target, self.route)

    def roll(self) -> bool:
        """Draw for one matching request; counts the firing."""
        if self.count is not None and self.fired >= self.count:
            return False
        hit = self._rng.random() < self.rate
        if hit:
            self.fired += 1
        return hit

    def describe(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in (*_FIELDS, "fired")}


@dataclass
class FaultDecision:
    """What to do with one request: extra delay, then at most one terminal fault."""

    delay_ms: int = 0
    fault: FaultRule | None = None


class FaultPlan:
    """The active fault rules (thread-safe) and the current 418 ban, if any."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._banned_until = 0

    def set(self, rules: list[FaultRule]) -> None:
        """Replace every rule (an empty list clears them and lifts a ban)."""
        with self._lock:
            self._rules = list(rules)
            if not rules:
                self._banned_until = 0

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def rules(self) -> list[dict[str, object]]:
        with self._lock:
            return [r.describe() for r in self._rules]

    def decide(self, method: str, path: str) -> FaultDecision:
        """Roll every matching rule for this request (in rule order)."""
        decision = FaultDecision()
        with self._lock:
            now = wall_ms()
            if now < self._banned_until:
                remaining = math.ceil((self._banned_until - now) / 1000)
                decision.fault = FaultRule(kind="ban", retry_after=remaining)
                return decision
            for rule in self._rules:
                if not rule.matches(method, path) or not rule.roll():
                    continue
                if rule.kind == "latency":
                    decision.delay_ms += rule.latency_ms
                elif decision.fault is None:
                    decision.fault = rule
                    if rule.kind == "ban":
                        self._banned_until = now + rule.retry_after * 1000
        return decision
