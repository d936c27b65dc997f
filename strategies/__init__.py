"""Strategies, found by name.

``get_strategy("rut_breakout_rotation")`` returns the class; a typo gets a did-you-mean.
"""

from __future__ import annotations

from papertrade.strategies.base import Decisions, RebalancePolicy, Strategy, StrategyParams
from papertrade.strategies.momentum_rotation import MomentumRotation
from papertrade.strategies.rut_breakout_rotation import RutBreakoutRotation

__all__ = [
    "Decisions",
    "MomentumRotation",
    "RebalancePolicy",
    "RutBreakoutRotation",
    "Strategy",
    "StrategyParams",
    "get_strategy",
    "registry",
]


def registry() -> dict[str, type[Strategy]]:
    """Every strategy papertrade ships, by config name."""
    return {cls.name: cls for cls in (RutBreakoutRotation, MomentumRotation)}


def get_strategy(name: str, file: str = "<config>") -> type[Strategy]:
    """The strategy class called ``name``; ConfigError with did-you-mean otherwise."""
    from papertrade.errors import ConfigError
    from papertrade.util.text import did_you_mean

    known = registry()
    if name in known:
        return known[name]
    hint = did_you_mean(name, known)
    raise ConfigError(
        file, "strategy.name", f"unknown strategy '{name}'",
        hint or f"available: {', '.join(sorted(known))}",
    )
