"""The emulated market clock, separate from request time.

The market (prices, candles, fills, order and trade times) runs on this clock; request
checks (``timestamp``/``recvWindow``, ``/api/v3/time``) use the real wall clock, as on Binance.

Two modes:

- ``step``: time only moves when told (:meth:`EmulatedClock.advance`, :meth:`EmulatedClock.set`,
  or ``POST /_emulator/clock``);
- ``speed``: emulated time runs ``speed`` times faster than real time from its anchor, and an
  ``advance``/``set`` moves the anchor.

The clock never goes backwards: that would rewrite the history the engine already replayed, and
it stays within 1970-01-01 .. 2200-01-01 (:data:`MIN_MS` .. :data:`MAX_MS`): a move outside that
range is refused (ValueError) and changes nothing; a ``speed`` clock stops at :data:`MAX_MS`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from papertrade.util.text import one_line

ClockMode = Literal["step", "speed"]
MS_PER_DAY = 86_400_000
MIN_MS = 0
MAX_MS = 7_258_118_400_000  # 2200-01-01T00:00:00Z: clients (pandas) read instants up to 2262
MAX_SPEED = 1e7  # emulated seconds per real second


def to_ms(instant: datetime | str | int | float) -> int:
    """Epoch milliseconds of ``instant`` (aware datetime, ISO-8601 text or epoch ms).

    A naive datetime or ISO text without an offset is read as UTC; a bare date
    (``2024-01-02``) means 00:00 UTC that day. ValueError (one line, input cut to 300
    characters) for anything else, and for instants outside ``MIN_MS .. MAX_MS``.
    """
    if isinstance(instant, int | float) and not isinstance(instant, bool):
        if not math.isfinite(instant):
            raise ValueError(f"{instant!r} is not an instant")
        ms = int(instant)
    elif isinstance(instant, str):
        text = instant.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"cannot read {one_line(repr(instant), 60)} as an instant: write ISO "
                             "text (2024-01-02T00:00:00Z) or epoch milliseconds") from None
        ms = _datetime_ms(parsed)
    elif isinstance(instant, datetime):
        ms = _datetime_ms(instant)
    else:
        raise ValueError(f"cannot read {one_line(repr(instant), 60)} as an instant")
    return checked_ms(ms)


def _datetime_ms(instant: datetime) -> int:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return round(instant.timestamp() * 1000)


def checked_ms(ms: int) -> int:
    """``ms`` if it lies within ``MIN_MS .. MAX_MS``, else ValueError."""
    if not MIN_MS <= ms <= MAX_MS:
        raise ValueError(f"instant {ms} ms is outside the emulator's range "
                         f"{iso(MIN_MS)} .. {iso(MAX_MS)}")
    return ms


def iso(ms: int) -> str:
    """ISO-8601 UTC text of epoch milliseconds (``2024-01-02T00:00:00.000Z``)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def wall_ms() -> int:
    """Real wall-clock epoch milliseconds (request time)."""
    return time.time_ns() // 1_000_000


class EmulatedClock:
    """Thread-safe emulated market clock (epoch milliseconds, UTC)."""

    def __init__(
        self, start: datetime | str | int, mode: ClockMode = "step", speed: float = 1.0
    ) -> None:
        if mode not in ("step", "speed"):
            raise ValueError(f"clock mode must be 'step' or 'speed', not {mode!r}")
        if mode == "speed" and not 0 < speed <= MAX_SPEED:
            raise ValueError(f"clock speed must be positive and at most {MAX_SPEED:g}")
        self._lock = threading.Lock()
        self._mode: ClockMode = mode
        self._speed = float(speed)
        self._anchor_ms = to_ms(start)
        self._anchor_real = time.monotonic()
        self._listeners: list[Callable[[int], None]] = []

    @property
    def mode(self) -> ClockMode:
        return self._mode

    @property
    def speed(self) -> float:
        return self._speed if self._mode == "speed" else 0.0

    def now_ms(self) -> int:
        """The emulated instant, epoch milliseconds."""
        with self._lock:
            return self._now_locked()

    def now(self) -> datetime:
        """The emulated instant as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    def advance(self, seconds: float) -> int:
        """Move the clock ``seconds`` forward (finite, >= 0, not past :data:`MAX_MS`); returns
        the new instant (ms). A refused move changes nothing."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError("advance_seconds must be a number of seconds")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"advance_seconds must be finite and >= 0, not {seconds!r}")
        if seconds > (MAX_MS - MIN_MS) / 1000:
            raise ValueError(f"advance_seconds {seconds:g} would move the clock past {iso(MAX_MS)}")
        with self._lock:
            current = self._now_locked()
            target = current + round(seconds * 1000)
            if target > MAX_MS:
                raise ValueError(f"advance_seconds {seconds:g} would move the clock past "
                                 f"{iso(MAX_MS)} (now {iso(current)})")
            self._reanchor(target)
        self._notify(target)
        return target

    def set(self, instant: datetime | str | int) -> int:
        """Move the clock to ``instant`` (not earlier than now); returns it in ms."""
        target = to_ms(instant)
        with self._lock:
            current = self._now_locked()
            if target < current:
                raise ValueError(
                    f"the emulated clock cannot go backwards (now {iso(current)}, "
                    f"asked {iso(target)})"
                )
            self._reanchor(target)
        self._notify(target)
        return target

    def on_change(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(now_ms)`` after every explicit move (advance/set)."""
        self._listeners.append(listener)

    def describe(self) -> dict[str, object]:
        """JSON-able view: mode, speed, now (ms and ISO)."""
        now = self.now_ms()
        return {"mode": self._mode, "speed": self.speed, "now_ms": now, "now": iso(now)}

    def _now_locked(self) -> int:
        if self._mode == "step":
            return self._anchor_ms
        elapsed = time.monotonic() - self._anchor_real
        return min(MAX_MS, self._anchor_ms + int(elapsed * self._speed * 1000))

    def _reanchor(self, target_ms: int) -> None:
        self._anchor_ms = target_ms
        self._anchor_real = time.monotonic()

    def _notify(self, now_ms: int) -> None:
        for listener in list(self._listeners):
            listener(now_ms)
