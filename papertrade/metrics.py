"""Performance statistics: pure functions of an equity curve and a list of fills.

Ratios are fractions (0.25 = 25 %). Returns are per bar; ``periods_per_year`` is 365 for a
crypto clock. The risk-free rate is zero. ``None`` means undefined (e.g. a profit factor with
no losing trade), never a made-up number.

One rule for every mode: annualised figures (:data:`ANNUALISED`) are given only for curves
spanning at least :data:`MIN_ANNUALISE_DAYS` days (a 5-day run is not annualised to +1,864 %
CAGR), and round trips come from the fills by :func:`round_trips`, whatever wrote them (a
backtest's exact fills, or an exchange's lot-rounded ones with fees charged in the asset
received).
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import pandas as pd

#: the shortest window (last date - first date) whose figures are annualised
MIN_ANNUALISE_DAYS: Final = 90
#: the figures that extrapolate a window to a year
ANNUALISED: Final = ("cagr", "volatility", "sharpe", "sortino", "calmar")
#: a position worth at most this much quote at its last fill is flat (exchange lot-rounding
#: leaves such remainders; the live kernel does not trade them: ``live.dust_notional``)
DUST_NOTIONAL: Final = 1.0


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def drawdown(equity: pd.Series) -> pd.Series:
    """Drawdown from the running peak at each bar (0 at a peak, negative below)."""
    return equity / equity.cummax() - 1.0


def time_weighted_equity(equity: pd.Series, flows: pd.Series | None = None) -> pd.Series:
    """``equity`` continued across external capital flows (deposits, withdrawals, a testnet
    reset), time-weighted: each bar's return is ``(E_t - F_t) / E_{t-1} - 1``, where ``F_t``
    is the capital that arrived (negative: left) since the previous bar, and the curve is
    chained from ``equity``'s first value. ``flows`` is indexed like ``equity`` (several flows
    on one bar add up; a flow on the first bar is starting capital, not a return). Without
    flows, ``equity`` itself."""
    if flows is None or flows.empty or len(equity) < 2:
        return equity
    flow = flows.groupby(level=0).sum().reindex(equity.index, fill_value=0.0).to_numpy()
    values = equity.to_numpy(dtype="float64")
    growth = np.ones(len(values))
    growth[1:] = (values[1:] - flow[1:]) / values[:-1]
    return pd.Series(values[0] * np.cumprod(growth), index=equity.index, name=equity.name)


def max_drawdown_duration_days(equity: pd.Series) -> int:
    """Longest stretch, in calendar days, from a peak until equity regains it (or the end)."""
    if equity.empty:
        return 0
    values = equity.to_numpy(dtype=float)
    if np.isnan(values).any():
        return _drawdown_days_loop(equity)
    times = pd.DatetimeIndex(equity.index)
    # a bar regains the peak when it is at least the highest value before it
    before = np.maximum.accumulate(values)[:-1]
    at_peak = np.flatnonzero(np.concatenate(([True], values[1:] >= before)))
    stamps = times.asi8
    gaps = np.diff(at_peak) > 1  # bars under water between two peaks
    spans = (stamps[at_peak[1:]] - stamps[at_peak[:-1]])[gaps]
    if at_peak[-1] != len(values) - 1:
        spans = np.append(spans, stamps[-1] - stamps[at_peak[-1]])
    if not len(spans):
        return 0
    longest = pd.Timedelta(int(spans.max()), unit=times.unit)
    return int(longest / pd.Timedelta(days=1))


def _drawdown_days_loop(equity: pd.Series) -> int:
    """:func:`max_drawdown_duration_days` bar by bar (a curve with gaps)."""
    peak, peak_time = equity.iloc[0], pd.Timestamp(equity.index[0])
    longest, under = pd.Timedelta(0), False
    for time, value in equity.items():
        if value >= peak:
            if under:
                longest = max(longest, pd.Timestamp(time) - peak_time)
            peak, peak_time, under = value, pd.Timestamp(time), False
        else:
            under = True
    if under:
        longest = max(longest, pd.Timestamp(equity.index[-1]) - peak_time)
    return int(longest / pd.Timedelta(days=1))


def window_days(equity: pd.Series) -> int:
    """Calendar days from a curve's first to its last time (0 for fewer than two points)."""
    if len(equity) < 2:
        return 0
    return int((pd.Timestamp(equity.index[-1]) - pd.Timestamp(equity.index[0]))
               / pd.Timedelta(days=1))


def not_annualised(equity: pd.Series, min_days: int = MIN_ANNUALISE_DAYS) -> str | None:
    """Why a curve's figures are not annualised (too short a window), or None."""
    days = window_days(equity.dropna())
    if days >= min_days:
        return None
    return f"too short to annualise: {days} days < {min_days}"


def equity_metrics(equity: pd.Series, periods_per_year: int = 365,
                   min_days: int = MIN_ANNUALISE_DAYS) -> dict[str, Any]:
    """Return, risk and risk-adjusted figures of an equity curve indexed by time; the
    :data:`ANNUALISED` ones are None for a window shorter than ``min_days``."""
    equity = equity.dropna()
    if len(equity) < 2 or equity.iloc[0] <= 0:
        return {"total_return": None, "cagr": None, "volatility": None, "sharpe": None,
                "sortino": None, "max_drawdown": None, "max_drawdown_duration_days": 0,
                "calmar": None}
    # on arrays: a sweep computes this once per config
    values = equity.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = values[1:] / values[:-1] - 1.0
    returns = returns[~np.isnan(returns)]
    total = values[-1] / values[0] - 1.0
    years = (pd.Timestamp(equity.index[-1]) - pd.Timestamp(equity.index[0])) / pd.Timedelta(
        days=365.25)
    cagr = (values[-1] / values[0]) ** (1 / years) - 1.0 if years > 0 else math.nan
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else math.nan
    mean = float(np.mean(returns)) if len(returns) else math.nan
    downside = np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)) if len(returns) else math.nan
    root = math.sqrt(periods_per_year)
    mdd = float(np.min(values / np.maximum.accumulate(values) - 1.0))
    stats = {
        "total_return": _finite(total),
        "cagr": _finite(cagr),
        "volatility": _finite(std * root),
        "sharpe": _finite(mean / std * root) if std > 0 else None,
        "sortino": _finite(mean / downside * root) if downside > 0 else None,
        "max_drawdown": _finite(mdd),
        "max_drawdown_duration_days": max_drawdown_duration_days(equity),
        "calmar": _finite(cagr / abs(mdd)) if mdd < 0 else None,
    }
    if not_annualised(equity, min_days):
        stats.update(dict.fromkeys(ANNUALISED))
    return stats


def round_trips(fills: pd.DataFrame, dust_notional: float = DUST_NOTIONAL) -> pd.DataFrame:
    """Per-symbol round trips (flat -> position -> flat) with their net P&L after fees: the one
    round-trip function of every mode.

    ``fills`` is ``trades.csv``'s table: columns symbol, side, qty, price, fee (valued in the
    quote currency), optionally time and fee_currency. A fee charged in the symbol's base asset
    (an exchange's fee on the asset received) is paid in units, not cash: the position moves by
    ``qty - fee / price``. A position is flat again when what is left is worth at most
    ``dust_notional`` at its last fill (the remainder of lot rounding). A position still open
    at the end is not a round trip.
    """
    return pd.DataFrame(_trips(fills, dust_notional),
                        columns=["symbol", "opened", "closed", "pnl"])


def _trips(fills: pd.DataFrame, dust_notional: float) -> list[dict[str, Any]]:
    """:func:`round_trips` as records, on plain lists (a sweep runs it once per config)."""
    trips: list[dict[str, Any]] = []
    n = len(fills)
    symbols, sides = fills["symbol"].tolist(), fills["side"].tolist()
    qtys, prices, fees = fills["qty"].tolist(), fills["price"].tolist(), fills["fee"].tolist()
    charged = fills["fee_currency"].tolist() if "fee_currency" in fills else [None] * n
    times = fills["time"].tolist() if "time" in fills.columns else [None] * n
    rows: dict[Any, list[int]] = {}
    for i, symbol in enumerate(symbols):
        if not pd.isna(symbol):  # as groupby drops them
            rows.setdefault(symbol, []).append(i)
    for symbol in sorted(rows):
        base = str(symbol).split("/")[0]
        held, pnl, is_open, opened = 0.0, 0.0, False, None
        for i in rows[symbol]:
            qty, price, fee = qtys[i], prices[i], fees[i]
            sign = 1.0 if sides[i] == "buy" else -1.0
            in_units = charged[i] == base and price > 0
            if not is_open:
                if sign < 0:  # selling what the run did not buy (a pre-funded account)
                    continue
                is_open, opened, pnl, held = True, times[i], 0.0, 0.0
            held += sign * qty - (fee / price if in_units else 0.0)
            pnl += -sign * qty * price - (0.0 if in_units else fee)
            if sign < 0 and (held <= 1e-9 * max(1.0, qty) or held * price <= dust_notional):
                trips.append({"symbol": symbol, "opened": opened, "closed": times[i],
                              "pnl": pnl})
                held, is_open = 0.0, False
    return trips


def trade_metrics(fills: pd.DataFrame, dust_notional: float = DUST_NOTIONAL) -> dict[str, Any]:
    """Counts, win rate, profit factor and fees from fills (round trips: :func:`round_trips`)."""
    if fills.empty:
        return {"trades": 0, "round_trips": 0, "win_rate": None, "profit_factor": None,
                "fees": 0.0, "traded_notional": 0.0}
    pnl = np.array([t["pnl"] for t in _trips(fills, dust_notional)], dtype=float)
    wins = pnl[pnl > 0].sum()
    losses = -pnl[pnl < 0].sum()
    return {
        "trades": len(fills),
        "round_trips": len(pnl),
        "win_rate": _finite((pnl > 0).mean()) if len(pnl) else None,
        "profit_factor": _finite(wins / losses) if losses > 0 else None,
        "fees": float(fills["fee"].sum()),
        "traded_notional": float((fills["qty"] * fills["price"]).sum()),
    }


def exposure(invested_share: pd.Series, threshold: float = 0.01) -> float | None:
    """Fraction of bars with more than ``threshold`` of equity in positions."""
    if invested_share.empty:
        return None
    return float((invested_share > threshold).mean())


def buy_and_hold(close: pd.Series, cash: float) -> pd.Series:
    """Equity of buying ``cash`` worth at the first close and holding (fees ignored)."""
    close = close.dropna()
    return close / close.iloc[0] * cash if len(close) else close


def summary(
    equity: pd.Series,
    fills: pd.DataFrame,
    invested_share: pd.Series,
    benchmarks: dict[str, pd.Series],
    periods_per_year: int = 365,
    dust_notional: float = DUST_NOTIONAL,
    benchmark_stats: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything ``metrics.json`` holds (see docs/run-folder.md); ``not_annualised`` says why
    the annualised figures are null (a window under :data:`MIN_ANNUALISE_DAYS`), else null.

    ``benchmark_stats``: :func:`benchmark_metrics` of ``benchmarks``, when the caller already
    has them (a sweep runs many configs over the same window).
    """
    stats: dict[str, Any] = {
        "start": pd.Timestamp(equity.index[0]).strftime("%Y-%m-%d") if len(equity) else None,
        "end": pd.Timestamp(equity.index[-1]).strftime("%Y-%m-%d") if len(equity) else None,
        "bars": len(equity),
        "start_equity": float(equity.iloc[0]) if len(equity) else None,
        "end_equity": float(equity.iloc[-1]) if len(equity) else None,
    }
    stats.update(equity_metrics(equity, periods_per_year))
    stats["not_annualised"] = not_annualised(equity) if len(equity) >= 2 else None
    stats["exposure"] = exposure(invested_share)
    trades = trade_metrics(fills, dust_notional)
    mean_equity = float(equity.mean()) if len(equity) else math.nan
    stats.update(trades)
    stats["turnover"] = _finite(trades["traded_notional"] / mean_equity) if len(equity) else None
    stats["benchmarks"] = (benchmark_stats if benchmark_stats is not None
                           else benchmark_metrics(benchmarks, periods_per_year))
    return stats


def benchmark_metrics(benchmarks: dict[str, pd.Series], periods_per_year: int = 365
                      ) -> dict[str, dict[str, Any]]:
    """Return, CAGR and max drawdown of each benchmark curve (``metrics.json``'s benchmarks)."""
    return {
        name: {k: equity_metrics(curve, periods_per_year)[k]
               for k in ("total_return", "cagr", "max_drawdown")}
        for name, curve in benchmarks.items()
    }
