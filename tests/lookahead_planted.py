"""Strategies with planted look-ahead biases, each of a kind real strategies ship with.
``tests/research/test_lookahead.py`` checks that ``papertrade lookahead`` flags each one at the
right first time."""

from __future__ import annotations

import pandas as pd

from papertrade.data.history import MarketHistory
from papertrade.strategies.base import Decisions, Strategy, StrategyParams, Symbol


class BtcParams(StrategyParams):
    """The traded symbol."""

    symbol: Symbol = "BTC/USDT"


class _OnBtc(Strategy):
    Params = BtcParams
    params: BtcParams

    def traded_symbols(self) -> list[str]:
        return [self.params.symbol]

    def closes(self, history: MarketHistory) -> pd.DataFrame:
        return history.closes(self.traded_symbols())


class PeekNextClose(_OnBtc):
    """Long when tomorrow's close is higher: shift(-1)."""

    name = "peek_next_close"

    def decide(self, history: MarketHistory) -> Decisions:
        closes = self.closes(history)
        return Decisions.build((closes.shift(-1) > closes).astype(float))


class FullSampleZScore(_OnBtc):
    """Long when the close is above the mean of the whole sample (a z-score > 0)."""

    name = "full_sample_zscore"

    def decide(self, history: MarketHistory) -> Decisions:
        closes = self.closes(history)
        return Decisions.build((((closes - closes.mean()) / closes.std()) > 0).astype(float))


class CentredWindow(_OnBtc):
    """Long above a centred 21-day average (rolling(center=True))."""

    name = "centred_window"

    def decide(self, history: MarketHistory) -> Decisions:
        closes = self.closes(history)
        return Decisions.build((closes > closes.rolling(21, center=True).mean()).astype(float))


class SameDayIndexParams(BtcParams):
    """The traded symbol and the index read."""

    signal: Symbol = "RUT"


class SameDayIndexClose(Strategy):
    """Long BTC on the calendar days the index closes up: the index's close of the decision's
    own day, published at 16:00 New York, i.e. after a 00:00 UTC decision."""

    name = "same_day_index_close"
    Params = SameDayIndexParams
    params: SameDayIndexParams

    def traded_symbols(self) -> list[str]:
        return [self.params.symbol]

    def decide(self, history: MarketHistory) -> Decisions:
        native = history.native(self.params.signal)
        closes = pd.Series(native["close"].to_numpy(), index=pd.DatetimeIndex(native["date"]))
        rising = closes > closes.shift(1)
        days = history.clock.tz_convert(None).normalize()
        today = rising.reindex(days).fillna(False).to_numpy(dtype=float)
        return Decisions.build(pd.DataFrame({self.params.symbol: today}, index=history.clock))


class PairParams(StrategyParams):
    """The two symbols ranked."""

    first: Symbol = "BTC/USDT"
    second: Symbol = "ETH/USDT"


class LastRowRank(Strategy):
    """All in the symbol with the best 30-bar momentum, ranked on the frame's last row."""

    name = "last_row_rank"
    Params = PairParams
    params: PairParams

    def traded_symbols(self) -> list[str]:
        return [self.params.first, self.params.second]

    def decide(self, history: MarketHistory) -> Decisions:
        closes = history.closes(self.traded_symbols())
        back = min(30, len(closes))
        best = (closes.iloc[-1] / closes.iloc[-back]).idxmax()  # "today" = the last row
        weights = pd.DataFrame(0.0, index=closes.index, columns=closes.columns)
        weights[best] = 1.0
        return Decisions.build(weights)


class ShortWarmup(_OnBtc):
    """Causal, but declares a warm-up shorter than its 30-day average needs: its incremental
    path (live) decides differently from its whole-history decide (backtest)."""

    name = "short_warmup"

    @property
    def warmup(self) -> int | None:
        return 10

    def decide(self, history: MarketHistory) -> Decisions:
        closes = self.closes(history)
        return Decisions.build((closes > closes.rolling(30).mean()).astype(float))
