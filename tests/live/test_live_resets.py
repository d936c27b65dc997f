"""Testnet resets: the flagship runs in ``testnet`` mode against the emulator as the sandbox
(``broker.testnet_url``), whose control API wipes the account mid-replay as a whole-testnet wipe
does (orders gone, balances refilled, order and trade ids numbered from 1 again); the run
journals one capital event, rebuilds towards its targets, keeps going, and ends with a
time-weighted return equal to the backtest's within the parity tolerance, without losing a
journal record. ``runs show`` marks the reset."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from typer.testing import CliRunner

from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.cli import _mount, app
from papertrade.config import load_config
from papertrade.exchange_sim.server import EmulatorServer
from papertrade.metrics import time_weighted_equity
from papertrade.runner import build_strategy
from tests.conftest import FLAGSHIP
from tests.live.testnet_runs import backtest_and_testnet

START, RESET_AT, UNTIL = "2020-12-01", "2021-02-10T12:00:00Z", "2021-02-28"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[EmulatorServer]:
    traded = build_strategy(load_config(FLAGSHIP)).traded_symbols()
    server = EmulatorServer(symbols=traded, start=START, spread_bps=5.0, taker_fee="0.001",
                            maker_fee="0.001", balances={"USDT": 10_000})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def runs(sandbox: EmulatorServer, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("resets")
    answer = requests.post(sandbox.base_url + "/_emulator/reset",
                           json={"at": RESET_AT, "balances": {"USDT": "10000"},
                                 "restart_ids": True}, timeout=5)
    assert answer.status_code == 200 and answer.json()["scheduled"], answer.text
    return backtest_and_testnet(sandbox, tmp, START, UNTIL, "live.market_data=venue",
                                "risk.kill_drawdown=0.3")


def rows(folder: Path, sql: str) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{folder / 'journal.sqlite'}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql)]


def test_the_reset_is_one_capital_event_and_the_run_carries_on(
        runs: tuple[Path, Path], sandbox: EmulatorServer) -> None:
    _backtest, live = runs
    assert sandbox.resets == 1
    events = rows(live, "SELECT * FROM capital_events")
    assert len(events) == 1
    event = events[0]
    assert event["kind"] == "reset" and event["time"] == "2021-02-11T00:00:00Z"
    assert event["equity_after"] == pytest.approx(10_000, rel=1e-3)  # the refill, all cash
    assert event["flow"] == pytest.approx(event["equity_after"] - event["equity_before"])
    assert event["flow"] < -1000  # the position the wipe took away
    # the portfolio is rebuilt at once, to the composition the wipe took away
    weights = json.loads(event["detail"])["rebuild_weights"]
    assert sum(weights.values()) > 0.95 and weights["BTC/USDT"] > 0.3
    rebuilt = rows(live, "SELECT symbol, side FROM orders WHERE decision_time = "
                   "'2021-02-11T00:00:00Z'")
    assert {o["symbol"] for o in rebuilt} == {s for s, w in weights.items() if w > 1e-3}
    assert {o["side"] for o in rebuilt} == {"buy"}
    held = rows(live, "SELECT SUM(value) AS v FROM positions WHERE time = "
                "(SELECT MIN(time) FROM equity WHERE time > '2021-02-11T00:00:00Z')")[0]["v"]
    assert held > 0.9 * 10_000
    # the run went on to the end, deciding every day, and the kill switch did not misfire
    times = [r["time"] for r in rows(live, "SELECT time FROM decisions ORDER BY time")]
    assert times[-1] == "2021-02-28T00:00:00Z"
    assert len(times) == (pd.Timestamp(UNTIL) - pd.Timestamp(START)).days  # first: Dec 2
    assert not rows(live, "SELECT * FROM events WHERE kind = 'kill_switch'")
    assert rows(live, "SELECT * FROM events WHERE kind = 'capital'")


def test_the_time_weighted_return_equals_the_backtests(runs: tuple[Path, Path]) -> None:
    """Over the same window (the live run's last mark, at 00:00 of Feb 28, is the bar of Feb
    27), within the parity test's tolerance of 0.5 %."""
    backtest, live = (pd.read_csv(f / "equity.csv", index_col="date") for f in runs)
    window = live.index.intersection(backtest.index)
    assert len(window) == len(live) >= 85
    growth = (live.loc[window, "equity"] / live.loc[window[0], "equity"]) / (
        backtest.loc[window, "equity"] / backtest.loc[window[0], "equity"])
    assert growth.iloc[-1] == pytest.approx(1, abs=5e-3)
    assert (growth - 1).abs().max() < 5e-3  # the curve, drawdowns included, not only the end
    metrics = json.loads((runs[1] / "metrics.json").read_text())
    assert metrics["capital_events"] == 1 and metrics["resets"] == 1
    assert metrics["total_return"] == pytest.approx(
        live["equity"].iloc[-1] / live["equity"].iloc[0] - 1)
    # the account itself lost the wiped position: its equity is far below the continued one
    assert metrics["end_account_equity"] < metrics["end_equity"] - 1000
    assert (live["capital_flow"] != 0).sum() == 1


def test_no_journal_record_is_lost(runs: tuple[Path, Path], sandbox: EmulatorServer) -> None:
    _backtest, live = runs
    orders = rows(live, "SELECT o.client_order_id, o.qty, o.status, SUM(f.qty) AS filled, "
                  "COUNT(f.id) AS n FROM orders o LEFT JOIN fills f "
                  "ON f.client_order_id = o.client_order_id GROUP BY o.client_order_id")
    assert len(orders) >= 20
    assert {o["status"] for o in orders} == {"filled"}
    for order in orders:
        assert order["n"] >= 1 and order["filled"] == pytest.approx(order["qty"], rel=1e-9)
    fills = rows(live, "SELECT client_order_id, time, trade_id FROM fills")
    before = [f for f in fills if f["time"] < RESET_AT]
    assert len(before) >= 10  # the fills the wipe erased on the exchange are still journalled
    # the wipe numbered trades from 1 again: ids recur, under other orders, and every fill the
    # sandbox holds since the wipe is journalled once
    assert len({f["trade_id"] for f in fills}) < len(fills)
    assert len({(f["client_order_id"], f["trade_id"]) for f in fills}) == len(fills)
    assert sandbox.state()["accounts"][0]["trades"] == len(fills) - len(before)


def test_runs_show_marks_the_reset(runs: tuple[Path, Path]) -> None:
    _mount()
    result = CliRunner().invoke(app, ["runs", "show", str(runs[1])], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "testnet reset at 2021-02-11T00:00:00Z" in " ".join(result.output.split())


def test_the_reset_control_wipes_orders_and_refills(sandbox: EmulatorServer) -> None:
    server = EmulatorServer(symbols=["BTC/USDT"], start="2021-01-01", balances={"USDT": 5000})
    with server:
        client = make_emulator_client(server.base_url, server.api_key, server.secret)
        client.create_order("BTC/USDT", "limit", "buy", 0.01, 10_000.0)
        assert len(client.fetch_open_orders("BTC/USDT")) == 1
        answer = requests.post(server.base_url + "/_emulator/reset",
                               json={"balances": {"USDT": "7000", "BTC": "1"}}, timeout=5)
        assert answer.status_code == 200 and answer.json()["resets"] == 1
        assert client.fetch_open_orders("BTC/USDT") == []
        balance = client.fetch_balance()
        assert balance["USDT"]["total"] == 7000 and balance["BTC"]["total"] == 1
        bad = requests.post(server.base_url + "/_emulator/reset",
                            json={"balances": {"USDT": "abc"}}, timeout=5)
        assert bad.status_code == 400 and server.resets == 1
        bad = requests.post(server.base_url + "/_emulator/reset",
                            json={"restart_ids": "yes"}, timeout=5)
        assert bad.status_code == 400 and "restart_ids" in bad.text and server.resets == 1
        # ids go on across a plain reset, and start again with restart_ids
        first = client.create_order("BTC/USDT", "market", "buy", 0.01)
        assert int(first["id"]) == 2 and int(first["trades"][0]["id"]) == 1
        requests.post(server.base_url + "/_emulator/reset", json={"restart_ids": True},
                      timeout=5).raise_for_status()
        again = client.create_order("BTC/USDT", "market", "buy", 0.01)
        assert int(again["id"]) == 1 and int(again["trades"][0]["id"]) == 1
        assert client.fetch_balance()["USDT"]["total"] == pytest.approx(5000 - 0.01 * float(
            again["average"]), rel=1e-6)  # the session's starting deposit, then the buy


def test_time_weighted_equity_on_a_known_answer() -> None:
    index = pd.date_range("2024-01-01", periods=4)
    # +10 %, then a withdrawal of 50 with a +10 % day, then -10 %
    equity = pd.Series([100.0, 110.0, 71.0, 63.9], index=index)
    flows = pd.Series([-50.0], index=[index[2]])
    curve = time_weighted_equity(equity, flows)
    assert curve.to_numpy() == pytest.approx([100, 110, 110 * (121 / 110), 121 * 0.9])
    assert time_weighted_equity(equity, pd.Series(dtype=float)) is equity


def test_the_report_marks_the_reset(runs: tuple[Path, Path]) -> None:
    from papertrade.report.html import render_report

    page = render_report(runs[1], "")
    assert "testnet reset at 2021-02-11T00:00:00Z" in page
    assert 'data-key="resets"' in page


def test_a_reset_is_a_live_event_and_a_notification_kind() -> None:
    from papertrade.live import events as ev
    from papertrade.live.notify import kind_of

    event = ev.Capital(pd.Timestamp("2021-02-11", tz="UTC"), "reset", -27_645.7, 37_645.7,
                       10_000.0, "USDT")
    assert kind_of(event) == "reset"
    assert event.text.startswith("testnet reset: balances moved by -27,645.70 USDT")
    assert "reset" in load_config(FLAGSHIP).run.notify.events


def test_a_fill_is_unique_per_order_and_trade_id_in_older_journals_too(tmp_path: Path) -> None:
    """A journal written before a wipe could reuse ids (unique trade id alone) is migrated
    when it is reopened: the same trade id under another order is a new fill."""
    from papertrade.journal import Journal

    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    with sqlite3.connect(path) as db:  # the index of journals written before
        db.execute("DROP INDEX fills_order_trade")
        db.execute("CREATE UNIQUE INDEX fills_trade ON fills(trade_id) WHERE trade_id IS NOT NULL")
    journal = Journal(path)
    when = pd.Timestamp("2021-02-11", tz="UTC")

    def fill(coid: str, trade_id: str | None) -> bool:
        return journal.fill(coid, time=when, symbol="BTC/USDT", side="buy", qty=1.0,
                            price=1.0, fee=0.0, fee_currency="BTC", trade_id=trade_id)

    assert fill("a", "BTCUSDT-1") and not fill("a", "BTCUSDT-1")
    assert fill("b", "BTCUSDT-1")  # after a wipe: the id again, under a new order
    assert fill("b", None) and fill("b", None)  # no id: nothing to deduplicate on
    journal.close()
    with sqlite3.connect(path) as db:
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert db.execute("SELECT COUNT(*) FROM fills").fetchone()[0] == 4
    assert "fills_trade" not in indexes and "fills_order_trade" in indexes
