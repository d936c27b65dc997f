"""How figures are written, in the terminal and the report alike."""

from __future__ import annotations

import pytest

from papertrade.report.formatting import arrow, fmt_inputs, fmt_metric, fmt_weights


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("total_return", 14.947893621589328, "1,494.79 %"),
        ("max_drawdown", -0.6081931853278346, "-60.82 %"),
        ("sharpe", 0.7431436998524581, "0.74"),
        ("end_equity", 60505.677190032686, "60,505.68 USDT"),
        ("trades", 197, "197"),
        ("max_drawdown_duration_days", 1812, "1,812 d"),
        ("turnover", 27.07203655006569, "27.07×"),
        ("profit_factor", None, "—"),
        ("start", "2017-08-17", "2017-08-17"),
        ("traded_notional", 2120634.1734431954, "2,120,634.17"),
        ("some_new_ratio", 0.012345, "0.01235"),
    ],
)
def test_metric_formats(key: str, value: object, shown: str) -> None:
    assert fmt_metric(key, value, "USDT") == shown


def test_decision_parts() -> None:
    inputs = {"signal_close": 2467.7, "breakout_level": 2442.74, "in_market": 1,
              "signal_date": "2026-02-27"}
    assert fmt_inputs(inputs) == ("signal_close=2,467.70, breakout_level=2,442.74, "
                                  "in_market=1, signal_date=2026-02-27")
    assert fmt_weights({"ETH/USDT": 0.25, "BTC/USDT": 0.75, "SOL/USDT": 0.0}) == \
        "BTC/USDT 75 %, ETH/USDT 25 %"
    assert fmt_weights({"BTC/USDT": 0.0}) == "cash"
    assert arrow("RUT close 2,467.70 > prior high 2,442.74 -> breakout") == \
        "RUT close 2,467.70 > prior high 2,442.74 → breakout"
