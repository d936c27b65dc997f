"""The live safety rails, each proven on a real replay: the flagship against the exchange emulator
over loopback through the real ccxt client, on the simulated clock (a few seconds per run).

The window starts 2020-11-12: the RUT breakout of 2020-11-13 makes the strategy buy BTC with all
its equity at the 2020-11-14 open, then rebalance weekly (every Monday 00:00 UTC decision), and
BTC falls 10 % from its 2020-11-25 high on 2020-11-27.

The rails that size orders (``risk.max_order_notional``, ``risk.max_daily_turnover``) belong
to the trading kernel and are tested in both modes at once in ``tests/test_rails.py``. Here:

- ``risk.kill_drawdown``: the 2020-11-27 drawdown flattens the account to USDT (on the
  exchange and in the journal), journals a ``kill_switch`` event, stops the run with that reason,
  and no decision follows;
- kill file: ``STOP`` appearing in the run folder while the loop waits for a decision stops the
  run before that decision;
- SIGTERM and SIGINT: a ``papertrade live`` subprocess stops gracefully: exit 0, manifest
  ``finished`` with the signal as stop reason, a consistent journal and every export written;
  a run in a worker thread leaves the process's signal handlers alone instead of failing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from papertrade.config import load_config
from papertrade.errors import RunFolderError
from papertrade.exchange_sim.server import EmulatorServer
from papertrade.live.session import LiveResult, run_live
from papertrade.runner import build_strategy
from tests.conftest import FLAGSHIP, ROOT, query

START = "2020-11-12"
BREAKOUT_BUY = "2020-11-14T00:00:00Z"
KILL_DAY = "2020-11-27T00:00:00Z"
# live decisions at 00:00 UTC of each day, no decision delay, the shipped fees and slippage
LIVE = ["broker.mode=emulator", f"broker.emulator.start={START}", "live.decision_delay_seconds=0",
        "live.backoff_seconds=0.01", "live.backoff_max_seconds=0.05"]


def live(tmp: Path, until: str, *overrides: str) -> LiveResult:
    """A live replay of the flagship from START through the bar of ``until``."""
    loaded = load_config(FLAGSHIP, [f"runs_dir={tmp}", *LIVE, *overrides])
    return run_live(loaded, build_strategy(loaded), until=dt.date.fromisoformat(until))


def manifest(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "manifest.json").read_text()))


def order_notionals(folder: Path) -> dict[str, float]:
    """Filled quote notional per client order id."""
    return {r["client_order_id"]: r["n"] for r in query(
        folder, "SELECT client_order_id, SUM(qty * price) AS n FROM fills "
                "GROUP BY client_order_id")}


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch,
             flagship_emulator: Callable[[str], EmulatorServer]) -> EmulatorServer:
    """A running emulator with the in-process one's settings; the run reaches it by URL."""
    server = flagship_emulator(START)
    monkeypatch.setenv("PAPERTRADE_EMULATOR_KEY", server.api_key)
    monkeypatch.setenv("PAPERTRADE_EMULATOR_SECRET", server.secret)
    return server


# --------------------------------------------------------------------------- kill switch


def test_kill_drawdown_flattens_the_account_and_stops(
    tmp_path: Path, emulator: EmulatorServer,
) -> None:
    result = live(tmp_path, "2020-12-10", f"broker.emulator.url={emulator.base_url}",
                  "risk.kill_drawdown=0.05")
    folder = result.folder
    assert "kill switch" in result.stop_reason
    events = query(folder, "SELECT time, message FROM events WHERE kind = 'kill_switch'")
    assert [e["time"] for e in events] == [KILL_DAY]
    assert "(risk.kill_drawdown -5.0%)" in events[0]["message"]
    # no decision after the kill; every decision before it was made
    times = [r["time"] for r in query(folder, "SELECT time FROM decisions ORDER BY time")]
    # (at the start instant the emulator's last daily candle has not closed yet: no decision)
    days = pd.date_range("2020-11-13", KILL_DAY[:10], freq="D").strftime("%Y-%m-%dT%H:%M:%SZ")
    assert times == list(days)
    meta = manifest(folder)
    assert meta["status"] == "finished"
    assert "kill switch" in meta["stop_reason"] and "drawdown" in meta["stop_reason"]
    # the exchange holds (dust of) no traded asset any more
    last_price = {r["symbol"].split("/")[0]: r["price"] for r in query(
        folder, "SELECT symbol, price FROM fills ORDER BY id")}
    for asset, (free, locked) in emulator.balances().items():
        if asset != "USDT":
            assert float(free + locked) * last_price[asset] < 1.0, asset
    assert float(emulator.balances()["USDT"][0]) > 9_000
    # the journal has the flatten's fills: every position nets out to dust (a buy's fee is
    # charged in the asset bought)
    net = query(folder, "SELECT symbol, SUM(CASE WHEN side = 'sell' THEN -qty WHEN fee_currency "
                        "= substr(symbol, 1, instr(symbol, '/') - 1) THEN qty - fee ELSE qty END)"
                        " AS q FROM fills GROUP BY symbol")
    assert net and all(abs(r["q"]) * last_price[r["symbol"].split("/")[0]] < 1.0
                       for r in net), [dict(r) for r in net]
    flatten = query(folder, "SELECT status FROM orders WHERE decision_time = ? "
                            "AND client_order_id GLOB '*9[0-9]'", (KILL_DAY,))
    assert flatten and {r["status"] for r in flatten} == {"filled"}
    assert not query(folder, "SELECT 1 FROM orders WHERE status NOT IN ('filled', 'skipped')")
    # the last mark is the flattened account: all cash, below the threshold from its peak
    last = query(folder, "SELECT time, equity, cash FROM equity ORDER BY time DESC LIMIT 1")[0]
    peak = query(folder, "SELECT MAX(equity) AS p FROM equity")[0]["p"]
    assert last["time"] == KILL_DAY
    assert last["cash"] == pytest.approx(last["equity"], abs=1.0)
    assert last["equity"] < peak * 0.95
    equity_csv = pd.read_csv(folder / "equity.csv")
    assert equity_csv["date"].is_unique
    assert equity_csv["equity"].iloc[-1] == pytest.approx(last["equity"])
    positions = query(folder, "SELECT symbol, value FROM positions WHERE time = ?", (KILL_DAY,))
    assert [dict(r) for r in positions if r["value"] >= 1.0] == []
    # a plain restart of the same config does not quietly undo the kill switch
    with pytest.raises(RunFolderError, match="stopped by the kill switch"):
        live(tmp_path, "2020-12-20", f"broker.emulator.url={emulator.base_url}",
             "risk.kill_drawdown=0.05")


# --------------------------------------------------------------------------- kill file


def test_kill_file_stops_the_run_before_its_next_decision(
    tmp_path: Path, emulator: EmulatorServer,
) -> None:
    """``STOP`` is created while the loop waits for the 2020-11-18 decision: at the emulator's
    clock move to that instant, which the loop makes before deciding."""
    stop_at = pd.Timestamp("2020-11-18T00:00:00Z")
    created: list[Path] = []

    def create_stop(now_ms: int) -> None:
        if now_ms >= stop_at.value // 1_000_000 and not created:
            (folder,) = tmp_path.glob("*-emulator-*")
            (folder / "STOP").write_text("")
            created.append(folder)

    emulator.clock.on_change(create_stop)
    result = live(tmp_path, "2020-12-10", f"broker.emulator.url={emulator.base_url}")
    assert created == [result.folder]
    times = [pd.Timestamp(r["time"]) for r in query(result.folder, "SELECT time FROM decisions")]
    assert max(times) == stop_at - pd.Timedelta(days=1), "decided after STOP appeared"
    assert result.stop_reason == "kill file STOP"
    meta = manifest(result.folder)
    assert (meta["status"], meta["stop_reason"]) == ("finished", "kill file STOP")


# --------------------------------------------------------------------------- SIGTERM


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_live_subprocess_gracefully(tmp_path: Path, stop: signal.Signals
                                                    ) -> None:
    sets = [x for o in [f"runs_dir={tmp_path}", *LIVE] for x in ("--set", o)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "papertrade.cli", "live", str(FLAGSHIP), "--until", "2021-06-30",
         *sets], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        folder = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            folders = list(tmp_path.glob("*-emulator-*"))
            if folders and (folders[0] / "journal.sqlite").exists():
                folder = folders[0]
                with contextlib.suppress(sqlite3.OperationalError):
                    if len(query(folder, "SELECT 1 FROM decisions")) >= 6:
                        break
            time.sleep(0.05)
        assert proc.poll() is None and folder is not None, "the run did not get going"
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert f"stopped: signal {stop.name}" in out
    meta = manifest(folder)
    assert meta["status"] == "finished"
    assert meta["stop_reason"] == f"signal {stop.name}"
    assert meta["error"] is None
    # stopped early, between decisions: the journal is consistent and complete
    decisions = query(folder, "SELECT time FROM decisions ORDER BY time")
    assert 6 <= len(decisions) < 100
    assert query(folder, "PRAGMA integrity_check")[0][0] == "ok"
    assert not query(folder, "SELECT 1 FROM orders WHERE status IN "
                             "('planned', 'submitting', 'unknown')")
    marks = query(folder, "SELECT time FROM equity ORDER BY time")
    assert [m["time"] for m in marks][-1] == decisions[-1]["time"]
    # every export is written and agrees with the journal
    equity = pd.read_csv(folder / "equity.csv")
    assert len(equity) == len(marks)
    trades = pd.read_csv(folder / "trades.csv")
    assert len(trades) == len(query(folder, "SELECT 1 FROM fills")) >= 1
    assert "BTC/USDT" in pd.read_csv(folder / "weights.csv").columns
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["trades"] == len(trades)


def test_a_live_run_in_another_thread_leaves_signal_handling_alone(tmp_path: Path) -> None:
    """Only the main thread may install signal handlers: a run in a worker thread does not try."""
    outcome: list[LiveResult | BaseException] = []

    def work() -> None:
        try:
            outcome.append(live(tmp_path, "2020-11-13"))
        except BaseException as exc:  # reported below, in the test's thread
            outcome.append(exc)

    before = signal.getsignal(signal.SIGTERM)
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    (result,) = outcome
    assert isinstance(result, LiveResult), repr(result)
    assert result.stop_reason == "reached --until 2020-11-13"
    assert signal.getsignal(signal.SIGTERM) is before
