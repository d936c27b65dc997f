"""SMA crossover: hold BTC/USDT while its fast moving average is above its slow one."""

from __future__ import annotations

from papertrade.data.history import MarketHistory
from papertrade.strategies.base import Decisions, Strategy, StrategyParams, Symbol


class SmaCrossParams(StrategyParams):
    """Which symbol, and the two moving-average windows (days)."""

    symbol: Symbol = "BTC/USDT"
    fast: int = 20
    slow: int = 50


class SmaCross(Strategy):
    """Long the symbol while SMA(fast) > SMA(slow) of its closes, else cash."""

    name = "sma_cross"
    Params = SmaCrossParams
    params: SmaCrossParams

    def traded_symbols(self) -> list[str]:
        return [self.params.symbol]

    def decide(self, history: MarketHistory) -> Decisions:
        closes = history.closes(self.traded_symbols())
        fast = closes.rolling(self.params.fast).mean()
        return Decisions.build((fast > closes.rolling(self.params.slow).mean()).astype(float))
