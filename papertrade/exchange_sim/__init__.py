"""A local exchange that speaks Binance's spot REST API, replaying bundled data.

``EmulatorServer`` (in :mod:`papertrade.exchange_sim.server`) is the in-process API; the
``papertrade exchange serve`` command (:mod:`papertrade.exchange_sim.cli`) runs it standalone.
Importing this package is cheap: the server and its pandas-backed market load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from papertrade.exchange_sim.clock import EmulatedClock
    from papertrade.exchange_sim.faults import FaultRule
    from papertrade.exchange_sim.server import EmulatorServer

__all__ = ["EmulatedClock", "EmulatorServer", "FaultRule"]


def __getattr__(name: str) -> object:
    if name == "EmulatorServer":
        from papertrade.exchange_sim.server import EmulatorServer

        return EmulatorServer
    if name == "EmulatedClock":
        from papertrade.exchange_sim.clock import EmulatedClock

        return EmulatedClock
    if name == "FaultRule":
        from papertrade.exchange_sim.faults import FaultRule

        return FaultRule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
