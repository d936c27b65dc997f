"""One metrics rule for every mode, on synthetic fills and curves with known answers: round trips
from exchange-style fills (fee charged in the asset bought, lot-rounding remainders), and
annualised figures only for windows of at least 90 days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papertrade.metrics import (
    ANNUALISED,
    MIN_ANNUALISE_DAYS,
    equity_metrics,
    round_trips,
    summary,
    trade_metrics,
)
from papertrade.report.formatting import TOO_SHORT, fmt_in


def fills(rows: list[tuple[str, str, float, float, float, str]]) -> pd.DataFrame:
    """trades.csv rows: symbol, side, qty, price, fee (valued in quote), fee currency."""
    frame = pd.DataFrame(rows, columns=["symbol", "side", "qty", "price", "fee", "fee_currency"])
    frame.insert(0, "time", [f"2021-01-{i + 1:02d}T00:00:00Z" for i in range(len(frame))])
    return frame


def test_a_fee_in_the_asset_bought_and_lot_dust_still_close_the_round_trip() -> None:
    # buy 1 BTC at 100: the exchange keeps 0.001 BTC as fee (valued 0.1 USDT in trades.csv);
    # the sell of what is held, truncated to a 0.00001 lot, leaves 0.000004 BTC of dust
    trips = round_trips(fills([
        ("BTC/USDT", "buy", 1.0, 100.0, 0.1, "BTC"),
        ("BTC/USDT", "sell", 0.99899, 110.0, 0.10988890, "USDT"),
        ("ETH/USDT", "buy", 2.0, 10.0, 0.02, "USDT"),
        ("ETH/USDT", "sell", 1.0, 12.0, 0.012, "USDT"),
    ]))
    assert trips["symbol"].tolist() == ["BTC/USDT"]  # ETH is still half held
    # cash out minus cash in: the base fee is paid in units (fewer sold), not counted twice
    assert trips.at[0, "pnl"] == pytest.approx(0.99899 * 110 - 0.1098889 - 100.0)


def test_round_trip_counts_and_ratios_agree_for_exact_and_exchange_fills() -> None:
    """A backtest's exact fills and an exchange's (base fee, lot rounding) of the same trades
    give the same round trips, win rate and a profit factor within the fees' difference."""
    exact = fills([
        ("A/USDT", "buy", 10.0, 10.0, 0.1, "USDT"), ("A/USDT", "sell", 10.0, 12.0, 0.12, "USDT"),
        ("A/USDT", "buy", 10.0, 12.0, 0.12, "USDT"), ("A/USDT", "sell", 10.0, 11.0, 0.11, "USDT"),
        ("B/USDT", "buy", 5.0, 20.0, 0.1, "USDT"), ("B/USDT", "sell", 5.0, 25.0, 0.125, "USDT"),
    ])
    exchange = fills([
        ("A/USDT", "buy", 10.0, 10.0, 0.1, "A"), ("A/USDT", "sell", 9.99, 12.0, 0.11988, "USDT"),
        ("A/USDT", "buy", 10.0, 12.0, 0.12, "A"), ("A/USDT", "sell", 9.99, 11.0, 0.10989, "USDT"),
        ("B/USDT", "buy", 5.0, 20.0, 0.1, "B"), ("B/USDT", "sell", 4.99, 25.0, 0.12475, "USDT"),
    ])
    a, b = trade_metrics(exact), trade_metrics(exchange)
    assert a["round_trips"] == b["round_trips"] == 3
    assert a["win_rate"] == b["win_rate"] == pytest.approx(2 / 3)
    assert b["profit_factor"] == pytest.approx(a["profit_factor"], rel=0.02)


def test_a_sell_of_coins_the_run_did_not_buy_is_not_a_round_trip() -> None:
    assert round_trips(fills([("BNB/USDT", "sell", 3.0, 30.0, 0.09, "USDT")])).empty


def curve(days: int) -> pd.Series:
    index = pd.date_range("2021-01-01", periods=days + 1, freq="D")
    return pd.Series(10_000 * np.exp(0.01 * np.arange(days + 1)), index=index)


def test_a_five_day_window_is_not_annualised() -> None:
    stats = equity_metrics(curve(5))
    assert all(stats[k] is None for k in ANNUALISED)
    assert stats["total_return"] == pytest.approx(np.exp(0.05) - 1)
    assert stats["max_drawdown"] == 0.0
    out = summary(curve(5), fills([]).iloc[:0], pd.Series(0.0, index=curve(5).index),
                  {"BTC/USDT buy&hold": curve(5)})
    assert out["not_annualised"] == "too short to annualise: 5 days < 90"
    assert out["benchmarks"]["BTC/USDT buy&hold"]["cagr"] is None
    assert fmt_in(out, "cagr") == fmt_in(out, "sharpe") == TOO_SHORT
    assert fmt_in(out, "total_return") == "5.13 %"


def test_a_window_of_90_days_is_annualised() -> None:
    stats = equity_metrics(curve(MIN_ANNUALISE_DAYS))
    assert stats["cagr"] == pytest.approx(np.exp(0.01 * 365.25) - 1)
    assert stats["volatility"] == pytest.approx(0.0, abs=1e-9)
    out = summary(curve(90), fills([]).iloc[:0], pd.Series(0.0, index=curve(90).index), {})
    assert out["not_annualised"] is None
    assert equity_metrics(curve(89))["cagr"] is None


def test_the_report_withholds_the_same_figures() -> None:
    """formatting (no pandas) keeps its own copy of the list: the same one."""
    from papertrade.report import formatting

    assert frozenset(ANNUALISED) == formatting.ANNUALISED
