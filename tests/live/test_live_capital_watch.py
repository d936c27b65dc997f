"""CapitalWatch on a real journal: what is expected after fills, what is a capital event, how
the kill switch's peak follows the time-weighted curve (also after a resume)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from papertrade.config_models import ResetConfig
from papertrade.journal import Journal
from papertrade.live.resets import CapitalWatch
from papertrade.risk import KillDrawdown, RiskEngine

T0 = pd.Timestamp("2024-01-02", tz="UTC")
T1 = T0 + pd.Timedelta(days=1)
PRICES = {"BTC/USDT": 40_000.0, "ETH/USDT": 2_000.0}


def watch(tmp_path: Path, **config: object) -> tuple[Journal, CapitalWatch]:
    journal = Journal(tmp_path / "journal.sqlite")
    return journal, CapitalWatch(journal, ResetConfig.model_validate(config), "USDT",
                                 list(PRICES), lambda symbols: {s: PRICES[s] for s in symbols})


def test_fills_explain_balance_changes(tmp_path: Path) -> None:
    journal, capital = watch(tmp_path)
    assert capital.check(T0, 10_000.0, {}) is None  # the first look: nothing to compare
    journal.fill("c1", time=T0, symbol="BTC/USDT", side="buy", qty=0.1, price=40_000.0,
                 fee=0.0001, fee_currency="BTC", trade_id="t1")
    journal.fill("c2", time=T0, symbol="ETH/USDT", side="buy", qty=1.0, price=2_000.0,
                 fee=2.0, fee_currency="USDT", trade_id="t2")
    # 10,000 - 4,000 - 2,000 - 2 = 3,998 USDT; 0.0999 BTC; 1 ETH: no event
    assert capital.check(T1, 3_998.0, {"BTC/USDT": 0.0999, "ETH/USDT": 1.0}) is None
    assert journal.rows("SELECT COUNT(*) AS n FROM capital_events")[0]["n"] == 0


def test_a_wipe_is_a_reset_and_rescales_the_peak(tmp_path: Path) -> None:
    journal, capital = watch(tmp_path)
    risk = RiskEngine(kill=KillDrawdown(0.3, peak=20_000.0))
    capital.check(T0, 2_000.0, {"BTC/USDT": 0.4})  # 18,000 of equity
    weights = capital.check(T1, 10_000.0, {}, risk)
    assert weights == pytest.approx({"BTC/USDT": 16_000 / 18_000})
    event = journal.rows("SELECT * FROM capital_events")[0]
    assert event["kind"] == "reset" and event["flow"] == pytest.approx(-8_000)
    assert (event["equity_before"], event["equity_after"]) == pytest.approx((18_000, 10_000))
    assert risk.kill is not None and risk.kill.peak == pytest.approx(20_000 * 10 / 18)
    assert risk.on_mark(T1, 10_000.0) == ""  # not a 50 % drawdown


def test_a_refill_rule_tells_resets_from_transfers(tmp_path: Path) -> None:
    journal, capital = watch(tmp_path, refill={"USDT": 10_000})
    capital.check(T0, 5_000.0, {})
    capital.check(T1, 6_000.0, {})  # 1,000 came in: not the refill
    capital.check(T1 + pd.Timedelta(days=1), 10_000.0, {"BTC/USDT": 0.0})
    kinds = [r["kind"] for r in journal.rows("SELECT kind FROM capital_events ORDER BY id")]
    assert kinds == ["transfer", "reset"]


def test_small_differences_are_not_events(tmp_path: Path) -> None:
    journal, capital = watch(tmp_path, min_change=0.01)
    capital.check(T0, 10_000.0, {})
    assert capital.check(T1, 10_050.0, {}) is None  # 0.5 % of equity
    assert journal.rows("SELECT COUNT(*) AS n FROM capital_events")[0]["n"] == 0


def test_the_peak_is_restored_on_the_time_weighted_curve(tmp_path: Path) -> None:
    journal, capital = watch(tmp_path)
    days = pd.date_range(T0, periods=3)
    for day, equity in zip(days, [20_000.0, 18_000.0, 10_000.0], strict=True):
        journal.mark(day, f"{day:%Y-%m-%d}", equity, {})
    journal.capital_event(days[2], "reset", -8_000.0, 18_000.0, 10_000.0, {})
    risk = RiskEngine(kill=KillDrawdown(0.3))
    risk.restore(20_000.0, "")  # what Trader.restore reads: the raw maximum
    capital.rescale_peak(risk)
    assert risk.kill is not None and risk.kill.peak == pytest.approx(20_000 * 10 / 18)
