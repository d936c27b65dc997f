"""Clocks for the live loop: real time, or simulated time that tests drive in seconds.

The loop only ever calls :meth:`Clock.now` and :meth:`Clock.sleep_until`; a simulated clock
jumps instead of sleeping and may move an exchange emulator's market clock along with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import pandas as pd


def utc(value: pd.Timestamp | str) -> pd.Timestamp:
    """A tz-aware UTC timestamp."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


class Clock(Protocol):
    """What the live loop needs from time."""

    def now(self) -> pd.Timestamp:
        """The current UTC time."""

    def sleep_until(self, when: pd.Timestamp, stop: threading.Event) -> bool:
        """Wait until ``when``; False if ``stop`` was set first."""


class WallClock:
    """Real time; sleeping wakes early when the stop event is set (Ctrl-C, SIGTERM)."""

    def now(self) -> pd.Timestamp:
        return pd.Timestamp.now(tz="UTC")

    def sleep_until(self, when: pd.Timestamp, stop: threading.Event) -> bool:
        while not stop.is_set():
            remaining = (utc(when) - self.now()).total_seconds()
            if remaining <= 0:
                return True
            stop.wait(min(remaining, 60.0))
        return False


class SimulatedClock:
    """Time that jumps to each wake-up instantly; ``on_move`` follows every jump."""

    simulated = True  # waits take no real time

    def __init__(self, start: pd.Timestamp,
                 on_move: Callable[[pd.Timestamp], None] | None = None) -> None:
        self._now = utc(start)
        self._on_move = on_move

    def now(self) -> pd.Timestamp:
        return self._now

    def sleep_until(self, when: pd.Timestamp, stop: threading.Event) -> bool:
        if stop.is_set():
            return False
        when = utc(when)
        if when > self._now:
            self._now = when
            if self._on_move is not None:
                self._on_move(when)
        return not stop.is_set()
