"""What a run is made of, from its config: the strategy it names (params validated, symbols
checked against the data sources) and the market history it reads. Shared by the backtest's
composition root (:mod:`papertrade.runner`) and the fast simulator (:mod:`papertrade.sim`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from papertrade.config import LoadedConfig, capped
from papertrade.data.history import MarketHistory
from papertrade.data.sources import check_symbols, load_market
from papertrade.errors import ConfigError
from papertrade.strategies import Strategy, get_strategy

__all__ = ["build_strategy", "load_history"]


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
