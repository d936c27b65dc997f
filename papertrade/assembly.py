"""What a run is made of, from its config: the strategy it names (params validated, symbols
checked against the data sources), the market history it reads, and its identity (effective
config and run hash). Shared by the backtest's composition root (:mod:`papertrade.runner`) and
the fast simulator (:mod:`papertrade.sim`), so both name a run, and its orders, alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from papertrade.config import LoadedConfig, capped
from papertrade.config_effective import digested, effective_config
from papertrade.data.history import MarketHistory
from papertrade.data.sources import check_symbols, load_market
from papertrade.errors import ConfigError
from papertrade.runfolder import run_digest
from papertrade.strategies import Strategy, get_strategy
from papertrade.strategies.loading import source_identity

__all__ = ["RunIdentity", "build_strategy", "load_history", "run_identity"]


def build_strategy(loaded: LoadedConfig, strategy_paths: Sequence[Path] = ()) -> Strategy:
    """The configured strategy (its params validated by its own model), its symbols checked
    against the data sources. ``strategy.path`` is read from the config's folder;
    ``strategy_paths`` are folders of user strategies (``--strategy-path``)."""
    run = loaded.run
    path = run.strategy.path
    if path is not None:
        path = path.expanduser()
        path = path if path.is_absolute() else Path(loaded.path).resolve().parent / path
    try:
        strategy = get_strategy(run.strategy.name, loaded.path, path=path,
                                search=strategy_paths).from_raw(run.strategy.params, loaded.path)
    except ConfigError as exc:  # a name or value from the config may be kilobytes long
        raise capped(exc) from None
    keys = strategy.symbol_keys()
    check_symbols(keys, run.data, loaded.path)
    quote = run.broker.quote
    traded = set(strategy.traded_symbols())  # once: a universe may list thousands of symbols
    for key, symbol in keys.items():
        if symbol in traded and symbol.split("/")[-1] != quote:
            raise ConfigError(
                loaded.path, key, f"'{symbol}' is not quoted in broker.quote {quote}",
                f"trade */{quote} pairs or set broker.quote to {symbol.split('/')[-1]}",
            )
    return strategy


def load_history(
    loaded: LoadedConfig, strategy: Strategy,
    start: dt.date | None = None, end: dt.date | None = None,
) -> tuple[MarketHistory, dict[str, dict[str, object]]]:
    """Every symbol the strategy reads, aligned on the traded clock."""
    symbols = list(dict.fromkeys([*strategy.symbol_keys().values(),
                                  *strategy.benchmark_symbols()]))
    return load_market(
        symbols, strategy.traded_symbols(), loaded.run.data,
        Path(loaded.path).resolve().parent, loaded.path, start=start, end=end,
    )


@dataclass(frozen=True)
class RunIdentity:
    """A backtest's effective config (``config.yaml``), strategy code identity and run hash
    (the folder's suffix, whose first 6 characters tag its client order ids)."""

    effective: dict[str, Any]
    code: dict[str, str]
    digest: str


def run_identity(
    loaded: LoadedConfig, strategy: Strategy, strategy_paths: Sequence[Path],
    start: dt.date | None, end: dt.date | None, labels: pd.DatetimeIndex,
    origins: dict[str, dict[str, object]],
) -> RunIdentity:
    """The identity of the backtest of ``loaded`` over the bars ``labels``."""
    run = loaded.run
    effective = effective_config(loaded, strategy.params.model_dump(mode="json"),
                                 start or run.data.start or labels[0].date(),
                                 end or run.data.end or labels[-1].date())
    found_in = _found_in(strategy, strategy_paths)
    if found_in is not None:  # the file, so the config.yaml runs without --strategy-path
        effective["strategy"]["path"] = str(found_in)
    code = source_identity(type(strategy))
    return RunIdentity(effective, code,
                       run_digest({**digested(effective), "strategy_code": code}, origins))


def _found_in(strategy: Strategy, strategy_paths: Sequence[Path]) -> Path | None:
    """The file of a strategy found in a ``--strategy-path`` folder, else None."""
    import inspect

    try:
        source = inspect.getsourcefile(type(strategy))
    except TypeError:
        return None
    if source is None:
        return None
    file = Path(source).resolve()
    folders = [Path(p).expanduser().resolve() for p in strategy_paths]
    return file if any(folder in file.parents for folder in folders) else None
