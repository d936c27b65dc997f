"""Russell 2000 breakout -> BTC -> altcoin rotation -> back to cash.

1. **Breakout** (on the signal's own trading calendar): a close above the highest close of the
   previous ``breakout.lookback`` sessions (or of all history), optionally only on weekly or
   monthly closes, optionally only after a *drought* of ``breakout.min_drought`` sessions since
   the previous new high. On a breakout the portfolio holds ``btc``.
2. **Rotation** (on the crypto clock): when ``rotation.trigger`` fires, ``rotation.share`` of the
   position moves into the ``rotation.top_k`` alts with the best ``rotation.momentum_days``
   return. Triggers: ``days_since_entry``, ``btc_new_high`` (BTC closes at a new
   ``trigger_days`` high), ``alts_outperform`` (the alts' mean ``trigger_days`` return beats
   BTC's), or ``never``.
3. **Failure**: back to the quote currency when the signal closes ``exit.below_level_pct`` % below
   the breakout level and/or below its ``exit.ma_days`` moving average (``exit.require``: any or
   all), once ``exit.min_hold_days`` have passed since entry.

An alt joins the universe when it has ``momentum_days`` of its own history; nothing is
back-filled.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from papertrade.data.history import MarketHistory
from papertrade.strategies.base import (
    Decisions,
    RebalancePolicy,
    Strategy,
    StrategyParams,
)
from papertrade.strategies.rut_breakout_scan import REGIME_COLUMNS, Regime, Scan
from papertrade.strategies.signals import returns


class BreakoutParams(StrategyParams):
    """What counts as a breakout of the signal index."""

    lookback: Annotated[int, Field(ge=1, le=10_000)] | Literal["all"] = Field(
        default="all", description="sessions of the prior high, or 'all' for an all-time high"
    )
    confirm: Literal["daily", "weekly", "monthly"] = Field(
        default="daily", description="close that must break out: daily, weekly or monthly"
    )
    min_drought: int = Field(
        default=0, ge=0, le=10_000, description="sessions since the previous new high, at least"
    )


class ExitParams(StrategyParams):
    """When a breakout has failed."""

    below_level_pct: float | None = Field(
        default=5.0, ge=0, le=100, description="exit when close < breakout level by this %"
    )
    ma_days: int | None = Field(
        default=50, ge=2, le=10_000,
        description="exit when close < its moving average of this many sessions",
    )
    require: Literal["any", "all"] = Field(
        default="any", description="exit on any enabled condition, or only when all hold"
    )
    min_hold_days: int = Field(default=0, ge=0, le=3_660,
                               description="calendar days held before exiting")

    @model_validator(mode="after")
    def _one_condition(self) -> ExitParams:
        if self.below_level_pct is None and self.ma_days is None:
            raise ValueError("set below_level_pct or ma_days, or the position never exits")
        return self


class RotationParams(StrategyParams):
    """When and how far to rotate from BTC into the strongest alts."""

    trigger: Literal["never", "days_since_entry", "btc_new_high", "alts_outperform"] = Field(
        default="days_since_entry", description="what starts the rotation"
    )
    trigger_days: int = Field(default=30, ge=1, le=3_660, description="N of the trigger")
    share: float = Field(default=0.5, ge=0, le=1, description="share of the position in alts")
    top_k: int = Field(default=3, ge=1, le=100, description="number of alts held")
    momentum_days: int = Field(default=30, ge=1, le=3_660,
                               description="momentum window ranking the alts")


class RutBreakoutParams(StrategyParams):
    """Parameters of :class:`RutBreakoutRotation` (``strategy.params`` in the YAML)."""

    signal: str = Field(default="RUT", min_length=1, description="index whose breakouts count")
    btc: str = Field(default="BTC/USDT", min_length=1, description="held on a breakout")
    alts: tuple[str, ...] = Field(default=(), description="rotation candidates")
    invest: float = Field(default=1.0, gt=0, le=1, description="share of equity in the market")
    breakout: BreakoutParams = Field(default_factory=BreakoutParams)
    exit: ExitParams = Field(default_factory=ExitParams)
    rotation: RotationParams = Field(default_factory=RotationParams)
    rebalance: RebalancePolicy = Field(default_factory=RebalancePolicy)

    @model_validator(mode="after")
    def _distinct(self) -> RutBreakoutParams:
        if self.btc in self.alts:
            raise ValueError(f"{self.btc} is both btc and an alt; remove it from alts")
        if len(set(self.alts)) != len(self.alts):
            raise ValueError("alts lists a symbol twice")
        return self


class RutBreakoutRotation(Strategy):
    """Index breakout -> BTC -> top-K alts -> cash. See the module docstring."""

    name: ClassVar[str] = "rut_breakout_rotation"
    Params: ClassVar[type[StrategyParams]] = RutBreakoutParams
    params: RutBreakoutParams

    def traded_symbols(self) -> list[str]:
        return [self.params.btc, *self.params.alts]

    def benchmark_symbols(self) -> list[str]:
        return [self.params.btc, self.params.signal]

    # ------------------------------------------------------------------ decisions

    def decide(self, history: MarketHistory) -> Decisions:
        return Scan(self).run(history)

    def targets(self, history: MarketHistory) -> Decisions:
        """``decide``'s weights and events on arrays, pieces memoised per history (sweeps)."""
        from papertrade.strategies.rut_breakout_targets import targets

        return targets(self, history)

    def decide_latest(self, history: MarketHistory) -> Decisions:
        """The decisions since the previous call, carrying the scan's state forward: the
        regime's state machine runs only over the signal's new moments, the rotation only over
        the new bars. A history that does not extend the previous one starts a new scan."""
        scan = self._scan
        if scan is None or not scan.extends(history):
            scan = self._scan = Scan(self)
        return scan.run(history)

    _scan: Scan | None = None  # decide_latest's scan, carried from call to call

    def regime(self, history: MarketHistory) -> pd.DataFrame:
        """The breakout state machine on the signal's calendar, one row per moment it may
        change (every session close, every confirmation point), indexed by when it is known.

        Columns: signal_date, signal_close, breakout_level, ma, in_market, entries, exits,
        entry_time, entry_level, exit_level.
        """
        regime = Regime(self)
        regime.load(history.native(self.params.signal))
        rows = regime.advance(history.now, keep=True)
        frame = pd.DataFrame(rows, columns=["time", *REGIME_COLUMNS])
        frame["time"] = pd.to_datetime(frame["time"], unit="ns", utc=True)
        frame["entry_time"] = pd.to_datetime(frame["entry_time"], unit="ns", utc=True)
        return frame.groupby("time", sort=True).last()

    def _exit_level(self, entry_level: float) -> float:
        pct = self.params.exit.below_level_pct
        return entry_level * (1 - pct / 100) if pct is not None else np.nan

    def _failed(self, close: float, entry_level: float, ma: float) -> bool:
        p = self.params.exit
        checks: list[bool] = []
        if p.below_level_pct is not None:
            checks.append(close < self._exit_level(entry_level))
        if p.ma_days is not None:
            checks.append(bool(close < ma))
        return any(checks) if p.require == "any" else all(checks)

    def _min_days_for_trigger(self) -> int:
        rot = self.params.rotation
        return rot.trigger_days if rot.trigger == "days_since_entry" else 0

    def _trigger(self, btc: np.ndarray, alts: np.ndarray, rot: RotationParams) -> np.ndarray:
        """Whether the rotation trigger holds at each row of the ``btc`` closes (1-D) and the
        ``alts`` closes (rows x alts); needs ``trigger_days`` rows before the first one asked."""
        if rot.trigger in ("never", "days_since_entry"):
            return np.full(len(btc), rot.trigger != "never")
        d = rot.trigger_days
        if rot.trigger == "btc_new_high":
            high = np.full(len(btc), np.nan)
            if len(btc) > d:  # the prior d closes, all present
                windows = np.lib.stride_tricks.sliding_window_view(btc[:-1], d)
                high[d:] = windows.max(axis=1)
            with np.errstate(invalid="ignore"):
                return np.asarray(btc > high)
        alt_ret, btc_ret = returns(alts, d), returns(btc, d)
        counts = (~np.isnan(alt_ret)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, np.nansum(alt_ret, axis=1) / counts, np.nan)
            return np.asarray(mean > btc_ret)

    def _top_alts(self, mom: np.ndarray) -> list[int]:
        """Positions of the top-K alts by momentum (ties: config order); NaN never ranks."""
        valid = np.flatnonzero(~np.isnan(mom))
        order = valid[np.argsort(-mom[valid], kind="stable")]
        return [int(j) for j in order[: self.params.rotation.top_k]]

    def _weights_row(self, cols: list[str], btc_close: float, alts: list[str]) -> np.ndarray:
        p = self.params
        row = np.zeros(len(cols))
        if np.isnan(btc_close) and not alts:
            return row
        alt_share = p.rotation.share if alts else 0.0
        if not np.isnan(btc_close):
            row[cols.index(p.btc)] = p.invest * (1 - alt_share)
        for alt in alts:
            row[cols.index(alt)] = p.invest * alt_share / len(alts)
        return row

    # ------------------------------------------------------------------ reasons

    def _reason_out(self, seen: dict[str, Any], event: str) -> str:
        sig, close = self.params.signal, seen["signal_close"]
        if pd.isna(close):
            return f"no {sig} close available yet: stay in {self._quote()}"
        when = _date(seen["signal_date"])
        if event == "exit":
            causes = []
            level, ma = seen["exit_level"], seen["ma"]
            if not pd.isna(level) and close < level:
                causes.append(f"< exit level {level:,.2f}")
            if not pd.isna(ma) and close < ma:
                causes.append(f"< {self.params.exit.ma_days}-session MA {ma:,.2f}")
            return (f"{sig} close {close:,.2f} {' and '.join(causes)} "
                    f"→ breakout failed ({when}): exit to {self._quote()}")
        return (f"{sig} close {close:,.2f} ({when}) <= prior high "
                f"{seen['breakout_level']:,.2f}: stay in {self._quote()}")

    def _reason_in(self, seen: dict[str, Any], event: str, alts: list[str]) -> str:
        sig, close = self.params.signal, seen["signal_close"]
        when = _date(seen["signal_date"])
        held = f"{self.params.btc}" + (f" + {', '.join(alts)}" if alts else "")
        if event == "breakout" and close > seen["breakout_level"]:
            return (f"{sig} close {close:,.2f} > prior high "
                    f"{seen['breakout_level']:,.2f} → breakout ({when}): hold {held}")
        if event == "breakout":  # the window opened on an episode under way
            since = pd.Timestamp(seen["entry_time"], tz="UTC").strftime("%Y-%m-%d")
            return (f"breakout under way since {since} (above {seen['entry_level']:,.2f}; "
                    f"{sig} close {close:,.2f} ({when}), exit below "
                    f"{seen['exit_level']:,.2f}): hold {held}")
        if event == "rotate":
            return f"rotation trigger {self.params.rotation.trigger} fired → hold {held}"
        return (f"in market: {sig} close {close:,.2f} ({when}), exit below "
                f"{seen['exit_level']:,.2f}; hold {held}")

    def _quote(self) -> str:
        return self.params.btc.split("/")[-1] if "/" in self.params.btc else "cash"


def _date(value: object) -> str:
    return str(value)[:10] if not pd.isna(value) else "?"
