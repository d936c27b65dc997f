"""What a live run tells its observers: one typed event per kind, and the bus that carries them.

The loop, the order executor and the session publish; the terminal view
(:mod:`papertrade.live.view`) and notifiers subscribe. Every event is a frozen dataclass with
the UTC ``time`` of the run's clock (simulated time in an emulator replay) and a one-line
``text``; nothing in an event is secret (messages come from the redacted broker errors).

A subscriber that raises is logged (once per subscriber) and the exception swallowed, so a
failing observer never stops trading. Subscribers run synchronously on the
loop's thread: one that does I/O must hand the event to its own queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from loguru import logger


def _hm(time: pd.Timestamp) -> str:
    return str(time.strftime("%Y-%m-%d %H:%M:%S UTC"))


@dataclass(frozen=True)
class Started:
    """The run is connected and about to wait for its first decision."""

    time: pd.Timestamp
    folder: Path
    mode: str
    venue: str
    name: str
    quote: str
    cash: float  # the configured starting cash (the baseline of "vs start")
    first_decision: pd.Timestamp  # the close of the first bar to decide on
    until: pd.Timestamp | None  # the close of the last bar of a replay (--until), else None
    resumed: bool = False

    @property
    def text(self) -> str:
        scope = f" until {_hm(self.until)}" if self.until is not None else ""
        how = "resumed" if self.resumed else "started"
        return (f"{how} {self.name} ({self.mode} on {self.venue}){scope}; first decision "
                f"{_hm(self.first_decision)}; run folder {self.folder}")


@dataclass(frozen=True)
class Waiting:
    """The loop sleeps until ``until`` to decide on the bar closing at ``decision``.
    ``real_seconds`` is how long that takes in real time (0 on a simulated clock)."""

    time: pd.Timestamp
    decision: pd.Timestamp
    until: pd.Timestamp
    real_seconds: float
    why: str = ""

    @property
    def text(self) -> str:
        why = f" ({self.why})" if self.why else ""
        return (f"waiting {self.real_seconds:,.0f} s until {_hm(self.until)} to decide on the "
                f"bar closing {_hm(self.decision)}{why}")


@dataclass(frozen=True)
class Decision:
    """A decision was made: the kernel's mark, targets and plan."""

    time: pd.Timestamp
    label: str  # the decided bar's date
    reason: str
    targets: dict[str, float]
    orders: int  # orders planned
    equity: float | None
    cash: float
    positions: dict[str, float]  # base quantity per traded symbol held before the plan
    benchmarks: dict[str, float] = field(default_factory=dict)  # benchmark closes at the bar

    @property
    def text(self) -> str:
        held = ", ".join(f"{s} {w:.0%}" for s, w in self.targets.items() if w > 0) or "cash"
        equity = f"; equity {self.equity:,.2f}" if self.equity is not None else ""
        return (f"decision {self.label}: {self.reason or 'no change'} -> {held} "
                f"({self.orders} order{'s' if self.orders != 1 else ''}){equity}")


@dataclass(frozen=True)
class Skipped:
    """No decision could be made at ``decision``; ``why`` says exactly why."""

    time: pd.Timestamp
    decision: pd.Timestamp
    why: str

    @property
    def text(self) -> str:
        return f"no decision at {_hm(self.decision)}: {self.why}"


@dataclass(frozen=True)
class OrderPlaced:
    """An order was accepted by the venue (its fills follow as :class:`Trade`)."""

    time: pd.Timestamp
    client_order_id: str
    symbol: str
    side: str
    qty: float
    status: str

    @property
    def text(self) -> str:
        return (f"order {self.side} {self.qty:.8g} {self.symbol} {self.status} "
                f"({self.client_order_id})")


@dataclass(frozen=True)
class Trade:
    """One execution (a fill) journalled for the first time."""

    time: pd.Timestamp
    client_order_id: str
    symbol: str
    side: str
    qty: float
    price: float
    fee: float
    fee_currency: str

    @property
    def text(self) -> str:
        return (f"trade {self.side} {self.qty:.8g} {self.symbol} @ {self.price:,.8g} "
                f"(fee {self.fee:.6g} {self.fee_currency})")


@dataclass(frozen=True)
class Rejection:
    """The venue refused an order (never retried)."""

    time: pd.Timestamp
    client_order_id: str
    symbol: str
    side: str
    qty: float
    message: str

    @property
    def text(self) -> str:
        return f"rejected {self.side} {self.qty:.8g} {self.symbol}: {self.message}"


@dataclass(frozen=True)
class Retry:
    """A transient fault is being retried (or waited out)."""

    time: pd.Timestamp
    message: str

    @property
    def text(self) -> str:
        return f"retry: {self.message}"


@dataclass(frozen=True)
class KillSwitch:
    """The kill switch fired (the run flattens and stops)."""

    time: pd.Timestamp
    message: str

    @property
    def text(self) -> str:
        return self.message


@dataclass(frozen=True)
class Capital:
    """Capital came or went without a trade: a testnet reset (or a transfer); returns continue
    time-weighted across it and the portfolio is rebuilt (:mod:`papertrade.live.resets`)."""

    time: pd.Timestamp
    kind: str  # reset or transfer
    flow: float
    equity_before: float
    equity_after: float
    quote: str

    @property
    def text(self) -> str:
        what = "testnet reset" if self.kind == "reset" else self.kind
        return (f"{what}: balances moved by {self.flow:+,.2f} {self.quote} without a trade "
                f"(equity {self.equity_before:,.2f} -> {self.equity_after:,.2f}); rebuilding")


@dataclass(frozen=True)
class Stopped:
    """The run ended normally; ``reason`` says why (``--once``, ``reached --until ...``,
    ``signal SIGINT``, ``kill file STOP``, ``kill switch ...``)."""

    time: pd.Timestamp
    reason: str
    decisions: int
    equity: float | None = None

    @property
    def text(self) -> str:
        equity = f"; equity {self.equity:,.2f}" if self.equity is not None else ""
        plural = "" if self.decisions == 1 else "s"
        return f"stopped: {self.reason} ({self.decisions} decision{plural}{equity})"


@dataclass(frozen=True)
class Crashed:
    """The run failed; ``error`` is the one-line (redacted) error, ``exit_code`` the CLI's."""

    time: pd.Timestamp
    error: str
    exit_code: int

    @property
    def text(self) -> str:
        return f"crashed (exit {self.exit_code}): {self.error}"


LiveEvent = (Started | Waiting | Decision | Skipped | OrderPlaced | Trade | Rejection | Retry
             | KillSwitch | Capital | Stopped | Crashed)
Subscriber = Callable[[LiveEvent], None]


class EventBus:
    """Publishes live events to subscribers; a subscriber's exception never reaches the loop."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._failed: set[int] = set()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add ``subscriber``; returns a function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def emit(self, event: LiveEvent) -> None:
        """Hand ``event`` to every subscriber in subscription order."""
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception as exc:  # an observer's bug must not stop trading
                if id(subscriber) not in self._failed:
                    self._failed.add(id(subscriber))
                    logger.warning("live event subscriber {} failed: {}: {}",
                                   getattr(subscriber, "__qualname__", subscriber),
                                   type(exc).__name__, exc)
