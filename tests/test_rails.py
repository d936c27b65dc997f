"""The risk rails, applied by the one trading kernel: the same outcome in a backtest and in an
emulator replay of the same window, on the real bundled data.

The window starts 2020-11-12: the RUT breakout of 2020-11-13 makes the flagship buy BTC with all
its equity at the 2020-11-14 open, then rebalance weekly; BTC falls 10 % from its 2020-11-25 high
on 2020-11-27; on 2020-12-14 half the position rotates into three alts.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from papertrade.config import load_config
from papertrade.live.session import run_live
from papertrade.runner import build_strategy, run_backtest
from tests.conftest import FLAGSHIP, query

START = "2020-11-12"
KILL_DAY = "2020-11-27T00:00:00Z"


def both(tmp: Path, until: str, *overrides: str) -> tuple[Path, Path]:
    """The flagship from START through the bar of ``until``: a backtest, then an emulator
    replay (in-process emulator, simulated clock, the backtest's fees and slippage)."""
    sets = [f"runs_dir={tmp}", *overrides]
    backtest = run_backtest(load_config(FLAGSHIP, [*sets, f"data.start={START}",
                                                   f"data.end={until}"]), report=False).folder
    loaded = load_config(FLAGSHIP, [*sets, "broker.mode=emulator",
                                    f"broker.emulator.start={START}",
                                    "live.decision_delay_seconds=0"])
    live = run_live(loaded, build_strategy(loaded),
                    until=dt.date.fromisoformat(until) - dt.timedelta(days=1)).folder
    return backtest, live


def plans(folder: Path) -> list[tuple[str, str, str]]:
    """Every planned order as (decision time, symbol, side), in plan order."""
    return [(r["decision_time"], r["symbol"], r["side"]) for r in query(
        folder, "SELECT decision_time, symbol, side FROM orders WHERE target_qty IS NOT NULL "
                "ORDER BY id")]


def fill_notionals(folder: Path) -> dict[str, float]:
    """Filled quote notional per client order id."""
    return {r["client_order_id"]: r["n"] for r in query(
        folder, "SELECT client_order_id, SUM(qty * price) AS n FROM fills "
                "GROUP BY client_order_id")}


def metrics(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "metrics.json").read_text()))


# --------------------------------------------------------------------------- max order notional


def test_max_order_notional_clips_every_order_alike_in_backtest_and_replay(
    tmp_path: Path,
) -> None:
    cap = 1500.0
    runs = both(tmp_path, "2020-12-20", f"risk.max_order_notional={cap}")
    backtest, live = runs
    assert plans(backtest) == plans(live)
    assert len(plans(live)) >= 10
    for folder in runs:
        filled = fill_notionals(folder)
        assert filled and max(filled.values()) <= cap * (1 + 1e-9), folder.name
        # the cap is what bound: the breakout wanted all 10,000 USDT in BTC at once, and the
        # remainder was deferred to the next decisions in capped slices
        btc = [n for coid, n in filled.items() if "BTC" in coid]
        assert sum(n > cap * 0.999 for n in btc) >= 5
        cuts = query(folder, "SELECT message FROM events WHERE kind = 'rail'")
        assert cuts and all("max_order_notional" in c["message"] for c in cuts)
        assert metrics(folder)["rail_cuts"] == len(cuts)
    assert metrics(backtest)["rail_cuts"] == metrics(live)["rail_cuts"]


def test_max_order_notional_500_on_the_whole_bundled_history(tmp_path: Path) -> None:
    folder = run_backtest(load_config(FLAGSHIP, [f"runs_dir={tmp_path}",
                                                 "risk.max_order_notional=500"]),
                          report=False).folder
    trades = pd.read_csv(folder / "trades.csv")
    assert len(trades) > 500
    assert trades["notional"].max() <= 500 * (1 + 1e-9)
    assert metrics(folder)["rail_cuts"] > 100


# --------------------------------------------------------------------------- daily turnover


def test_max_daily_turnover_defers_alike_in_backtest_and_replay(tmp_path: Path) -> None:
    limit = 0.3
    runs = both(tmp_path, "2020-11-24", f"risk.max_daily_turnover={limit}")
    backtest, live = runs
    assert plans(backtest) == plans(live)
    days = []
    for folder in runs:
        traded = {r["day"]: r["n"] for r in query(
            folder, "SELECT substr(time, 1, 10) AS day, SUM(qty * price) AS n FROM fills "
                    "GROUP BY day")}
        # the budget is 30 % of the equity marked just before the day's trades
        equity = {r["day"]: r["equity"] for r in query(
            folder, "SELECT substr(time, 1, 10) AS day, equity FROM equity")}
        for day, notional in traded.items():
            assert notional <= limit * equity[day] * (1 + 1e-6), (folder.name, day)
        # all equity wanted in BTC at once: the rail spread the buy over four days
        assert list(traded)[:4] == ["2020-11-14", "2020-11-15", "2020-11-16", "2020-11-17"]
        assert all(n >= limit * equity[d] * 0.999 for d, n in list(traded.items())[:3])
        days.append(list(traded))
    assert days[0] == days[1]


# --------------------------------------------------------------------------- kill switch


def test_kill_drawdown_fires_alike_in_backtest_and_replay(tmp_path: Path) -> None:
    backtest, live = both(tmp_path, "2020-12-10", "risk.kill_drawdown=0.05")
    for folder in (backtest, live):
        fired = query(folder, "SELECT time, message FROM events WHERE kind = 'kill_switch'")
        assert [f["time"] for f in fired] == [KILL_DAY], folder.name
        assert "kill switch fired 2020-11-27" in fired[0]["message"]
        assert metrics(folder)["kill_switch"] == fired[0]["message"]
        # after the flatten no order at all
        late = query(folder, "SELECT decision_time, reason FROM orders WHERE decision_time > ?",
                     (KILL_DAY,))
        assert late == [], folder.name
        flatten = query(folder, "SELECT symbol, side FROM orders WHERE decision_time = ?",
                        (KILL_DAY,))
        assert flatten and {r["side"] for r in flatten} == {"sell"}
    assert plans(backtest) == plans(live)
    # the replay stopped at the kill; the backtest marked its cash to the end of the window
    meta = json.loads((live / "manifest.json").read_text())
    assert meta["stop_reason"].startswith("kill switch fired 2020-11-27")
    equity = pd.read_csv(backtest / "equity.csv", index_col="date")["equity"]
    after = equity.loc["2020-11-28":]
    assert len(after) >= 10 and after.nunique() == 1


def test_kill_drawdown_bounds_the_drawdown_of_the_whole_history(tmp_path: Path) -> None:
    limit = 0.2
    folder = run_backtest(load_config(FLAGSHIP, [f"runs_dir={tmp_path}",
                                                 f"risk.kill_drawdown={limit}"]),
                          report=False).folder
    marks = query(folder, "SELECT time, equity FROM equity ORDER BY time")
    equity = pd.Series([m["equity"] for m in marks], index=[m["time"] for m in marks])
    drawdown = equity / equity.cummax() - 1
    first = drawdown.index[drawdown < -limit][0]
    fired = query(folder, "SELECT time, message FROM events WHERE kind = 'kill_switch'")
    assert [f["time"] for f in fired] == [first]
    # nothing traded after the flatten at the next open: the account sits in cash
    assert not query(folder, "SELECT 1 FROM orders WHERE decision_time > ?", (first,))
    after = equity.loc[equity.index > first].iloc[1:]
    assert len(after) > 1000 and after.nunique() == 1
    # the worst drawdown is the one at the firing mark, plus the flatten's costs
    assert drawdown.min() >= drawdown[first] - 0.01
    assert "kill switch fired" in metrics(folder)["kill_switch"]
