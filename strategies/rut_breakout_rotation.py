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

from typing import Annotated, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from papertrade.data.history import MarketHistory
from papertrade.strategies.base import (
    Decisions,
    RebalancePolicy,
    Strategy,
    StrategyParams,
    scheduled_days,
)
from papertrade.strategies.signals import confirmation_points, drought, momentum, prior_high


class BreakoutParams(StrategyParams):
    """What counts as a breakout of the signal index."""

    lookback: Annotated[int, Field(ge=1)] | Literal["all"] = Field(
        default="all", description="sessions of the prior high, or 'all' for an all-time high"
    )
    confirm: Literal["daily", "weekly", "monthly"] = Field(
        default="daily", description="close that must break out: daily, weekly or monthly"
    )
    min_drought: int = Field(
        default=0, ge=0, description="sessions since the previous new high, at least"
    )


class ExitParams(StrategyParams):
    """When a breakout has failed."""

    below_level_pct: float | None = Field(
        default=5.0, ge=0, le=100, description="exit when close < breakout level by this %"
    )
    ma_days: int | None = Field(
        default=50, ge=2, description="exit when close < its moving average of this many sessions"
    )
    require: Literal["any", "all"] = Field(
        default="any", description="exit on any enabled condition, or only when all hold"
    )
    min_hold_days: int = Field(default=0, ge=0, description="calendar days held before exiting")

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
    trigger_days: int = Field(default=30, ge=1, description="N of the trigger")
    share: float = Field(default=0.5, ge=0, le=1, description="share of the position in alts")
    top_k: int = Field(default=3, ge=1, description="number of alts held")
    momentum_days: int = Field(default=30, ge=1, description="momentum window ranking the alts")


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

    def symbol_keys(self) -> dict[str, str]:
        p = self.params
        keys = {"strategy.params.signal": p.signal, "strategy.params.btc": p.btc}
        keys.update({f"strategy.params.alts[{i}]": alt for i, alt in enumerate(p.alts)})
        return keys

    def traded_symbols(self) -> list[str]:
        return [self.params.btc, *self.params.alts]

    def benchmark_symbols(self) -> list[str]:
        return [self.params.btc, self.params.signal]

    # ------------------------------------------------------------------ signal regime

    def regime(self, history: MarketHistory) -> pd.DataFrame:
        """The breakout state machine on the signal's calendar, indexed by the time it is known.

        Columns: signal_date, signal_close, breakout_level, ma, in_market, entries, exits,
        entry_time, entry_level, exit_level.
        """
        p = self.params
        native = history.native(p.signal)
        close = native["close"].reset_index(drop=True)
        dates = native["date"].reset_index(drop=True)
        level = prior_high(close, p.breakout.lookback)
        dry = drought(close, level)
        ma = close.rolling(p.exit.ma_days).mean() if p.exit.ma_days else None
        points = confirmation_points(dates, pd.DatetimeIndex(native.index), p.breakout.confirm)
        # integer nanoseconds: this loop visits every session since 1987
        times = pd.DatetimeIndex(native.index).as_unit("ns").asi8
        confirm_at = dict(zip(points.index.tolist(),
                              pd.DatetimeIndex(points).as_unit("ns").asi8.tolist(), strict=True))

        # One row per moment something can change: every session close (exit checks) and every
        # confirmation point (entry checks), processed in time order.
        moments = sorted({(int(t), i) for i, t in enumerate(times)} |
                         {(t, i) for i, t in confirm_at.items()})
        c_arr, lvl_arr, dry_arr = close.to_numpy(), level.to_numpy(), dry.to_numpy()
        ma_arr = ma.to_numpy() if ma is not None else np.full(len(close), np.nan)
        date_arr = dates.to_numpy()
        hold = int(pd.Timedelta(days=p.exit.min_hold_days).value)
        rows: list[tuple[object, ...]] = []
        in_market, entries, exits = False, 0, 0
        entry_time = -1
        entry_level = np.nan
        for time, i in moments:
            c, lvl, mav = float(c_arr[i]), float(lvl_arr[i]), float(ma_arr[i])
            if in_market and times[i] == time:
                if time - entry_time >= hold and self._failed(c, entry_level, mav):
                    in_market, exits = False, exits + 1
            elif (not in_market and confirm_at.get(i) == time and c > lvl
                  and dry_arr[i] >= p.breakout.min_drought):
                in_market, entries = True, entries + 1
                entry_time, entry_level = time, lvl
            rows.append((time, date_arr[i], c, lvl, mav, in_market, entries, exits,
                         entry_time if entries else None, entry_level,
                         self._exit_level(entry_level)))
        frame = pd.DataFrame(rows, columns=[
            "time", "signal_date", "signal_close", "breakout_level", "ma", "in_market",
            "entries", "exits", "entry_time", "entry_level", "exit_level"])
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

    # ------------------------------------------------------------------ decisions

    def decide(self, history: MarketHistory) -> Decisions:
        p, rot = self.params, self.params.rotation
        clock = history.clock
        regime = self.regime(history)
        joined = history.as_of_frame(regime)
        seen = {str(col): joined[col] for col in joined.columns}
        in_market = seen["in_market"].astype("boolean").fillna(False).astype(bool)
        entries = seen["entries"].fillna(0).astype(int)
        exits = seen["exits"].fillna(0).astype(int)
        entry_time = pd.to_datetime(seen["entry_time"], utc=True)

        closes = history.closes(self.traded_symbols())
        btc = closes[p.btc]
        alts = closes[list(p.alts)]
        alt_mom = momentum(alts, rot.momentum_days)
        trig = self._trigger(btc, alts, rot)
        scheduled = scheduled_days(history, self.params.rebalance)

        n, cols = len(clock), self.traded_symbols()
        # plain arrays: this loop runs once per bar, pandas scalar access would dominate
        entries_a, exits_a = entries.to_numpy(), exits.to_numpy()
        in_a, trig_a, btc_a = in_market.to_numpy(), trig.to_numpy(dtype=bool), btc.to_numpy()
        alts_a, mom_a = alts.to_numpy(), alt_mom.to_numpy()
        days_in = ((clock - entry_time) / pd.Timedelta(days=1)).to_numpy(dtype=float)
        days_in = np.nan_to_num(days_in, nan=0.0)
        view = {col: series.to_numpy() for col, series in seen.items()}
        alt_names = list(p.alts)
        weights = np.zeros((n, len(cols)))
        events = np.full(n, "", dtype=object)
        reasons = np.full(n, "", dtype=object)
        held: list[int] = []
        rotated = np.zeros(n, dtype=bool)
        # An episode already under way when the window opens is entered at the first decision.
        prev_entries = int(entries_a[0]) - int(bool(in_a[0])) if n else 0
        prev_exits, is_rot = int(exits_a[0]) if n else 0, False
        for k in range(n):
            if entries_a[k] > prev_entries:
                events[k], is_rot, held = "breakout", False, []
            elif exits_a[k] > prev_exits:
                events[k], is_rot, held = "exit", False, []
            prev_entries, prev_exits = entries_a[k], exits_a[k]
            if not in_a[k]:
                reasons[k] = self._reason_out(view, k, events[k])
                continue
            if (not is_rot and rot.share > 0 and trig_a[k]
                    and days_in[k] >= self._min_days_for_trigger()):
                is_rot = True
                events[k] = events[k] or "rotate"
                held = self._top_alts(mom_a[k])
            elif is_rot and (scheduled[k] or np.isnan(alts_a[k, held]).any()):
                held = self._top_alts(mom_a[k])
            rotated[k] = is_rot
            names = [alt_names[j] for j in held] if is_rot else []
            weights[k] = self._weights_row(cols, btc_a[k], names)
            reasons[k] = self._reason_in(view, k, events[k], names)

        inputs = pd.DataFrame({
            "signal_date": pd.to_datetime(seen["signal_date"]).dt.strftime("%Y-%m-%d"),
            "signal_close": seen["signal_close"],
            "breakout_level": seen["breakout_level"],
            "exit_level": seen["exit_level"].where(in_market),
            "ma": seen["ma"],
            "in_market": in_market.astype(int),
            "rotated": rotated.astype(int),
            "btc_close": btc,
        }, index=clock)
        return Decisions(
            weights=pd.DataFrame(weights, index=clock, columns=cols),
            events=pd.Series(events, index=clock, dtype=object),
            reasons=pd.Series(reasons, index=clock, dtype=object),
            inputs=inputs,
        )

    def _min_days_for_trigger(self) -> int:
        rot = self.params.rotation
        return rot.trigger_days if rot.trigger == "days_since_entry" else 0

    def _trigger(self, btc: pd.Series, alts: pd.DataFrame, rot: RotationParams) -> pd.Series:
        if rot.trigger in ("never", "days_since_entry"):
            return pd.Series(rot.trigger != "never", index=btc.index)
        if rot.trigger == "btc_new_high":
            high = btc.rolling(rot.trigger_days, min_periods=rot.trigger_days).max().shift(1)
            return (btc > high).fillna(False)
        alt_ret = momentum(alts, rot.trigger_days).mean(axis=1, skipna=True)
        btc_ret = momentum(btc.to_frame(), rot.trigger_days).iloc[:, 0]
        return (alt_ret > btc_ret).fillna(False)

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

    def _reason_out(self, seen: dict[str, np.ndarray], k: int, event: str) -> str:
        sig, close = self.params.signal, seen["signal_close"][k]
        if pd.isna(close):
            return f"no {sig} close available yet: stay in {self._quote()}"
        when = _date(seen["signal_date"][k])
        if event == "exit":
            causes = []
            level, ma = seen["exit_level"][k], seen["ma"][k]
            if not pd.isna(level) and close < level:
                causes.append(f"< exit level {level:,.2f}")
            if not pd.isna(ma) and close < ma:
                causes.append(f"< {self.params.exit.ma_days}-session MA {ma:,.2f}")
            return (f"{sig} close {close:,.2f} {' and '.join(causes)} "
                    f"→ breakout failed ({when}): exit to {self._quote()}")
        return (f"{sig} close {close:,.2f} ({when}) <= prior high "
                f"{seen['breakout_level'][k]:,.2f}: stay in {self._quote()}")

    def _reason_in(self, seen: dict[str, np.ndarray], k: int, event: str, alts: list[str]) -> str:
        sig, close = self.params.signal, seen["signal_close"][k]
        when = _date(seen["signal_date"][k])
        held = f"{self.params.btc}" + (f" + {', '.join(alts)}" if alts else "")
        if event == "breakout":
            return (f"{sig} close {close:,.2f} > prior high "
                    f"{seen['breakout_level'][k]:,.2f} → breakout ({when}): hold {held}")
        if event == "rotate":
            return f"rotation trigger {self.params.rotation.trigger} fired → hold {held}"
        return (f"in market: {sig} close {close:,.2f} ({when}), exit below "
                f"{seen['exit_level'][k]:,.2f}; hold {held}")

    def _quote(self) -> str:
        return self.params.btc.split("/")[-1] if "/" in self.params.btc else "cash"


def _date(value: object) -> str:
    return str(value)[:10] if not pd.isna(value) else "?"
