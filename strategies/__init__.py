"""Strategies, found by name.

``get_strategy("rut_breakout_rotation")`` returns the class; a typo gets a did-you-mean over
the shipped strategies and the user's. A user strategy is found by file
(``get_strategy("sma_cross", path=Path("my/sma_cross.py"))``), by ``module:Class`` in the
name, by name in the folders given as ``search`` (``--strategy-path``), or by the name an
installed package registers in the ``papertrade.strategies`` entry-point group; see
:mod:`.loading`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from papertrade.strategies.base import (
    Decisions,
    RebalancePolicy,
    Strategy,
    StrategyParams,
    Symbol,
)
from papertrade.strategies.momentum_rotation import MomentumRotation
from papertrade.strategies.rut_breakout_rotation import RutBreakoutRotation

__all__ = [
    "Decisions",
    "MomentumRotation",
    "RebalancePolicy",
    "RutBreakoutRotation",
    "Strategy",
    "StrategyParams",
    "Symbol",
    "available",
    "get_strategy",
    "registry",
]


def registry() -> dict[str, type[Strategy]]:
    """Every strategy papertrade ships, by config name."""
    return {cls.name: cls for cls in (RutBreakoutRotation, MomentumRotation)}


def available(search: Sequence[Path] = (), file: str = "command line",
              extra: Sequence[type[Strategy]] = ()) -> dict[str, type[Strategy]]:
    """The shipped strategies, the installed packages' (entry points), those of the ``search``
    folders' files and ``extra``, by name; ConfigError when two different strategies share a
    name."""
    from papertrade.errors import ConfigError
    from papertrade.strategies.loading import installed, origin, scan_folder

    known = dict(registry())
    found = [cls for folder in search for cls in scan_folder(folder, file)]
    for cls in [*installed(file), *found, *extra]:
        seen = known.get(cls.name)
        if seen is not None and seen is not cls and origin(seen) != origin(cls):
            raise ConfigError(file, "strategy.name",
                              f"two strategies named '{cls.name}': {origin(seen)} and "
                              f"{origin(cls)}", "rename one of them (its name attribute)")
        known[cls.name] = cls
    return known


def get_strategy(name: str, file: str = "<config>", *, path: Path | None = None,
                 search: Sequence[Path] = ()) -> type[Strategy]:
    """The strategy class called ``name`` (in the file ``path`` if given; ``module:Class``
    imports it); ConfigError with did-you-mean otherwise."""
    from papertrade.errors import ConfigError
    from papertrade.strategies.loading import from_file, from_module
    from papertrade.util.text import did_you_mean

    if path is not None:
        cls = from_file(path, name, file, available(search, file))
        available(search, file, [cls])  # no other strategy may take its name
        return cls
    if ":" in name:
        return from_module(name, file)
    known = available(search, file)
    if name in known:
        return known[name]
    hint = did_you_mean(name, known)
    raise ConfigError(
        file, "strategy.name", f"unknown strategy '{name}'",
        hint or f"available: {', '.join(sorted(known))}",
    )
