"""Chaos: the parity replay (2020-10-01 -> 2021-12-31) with more than 10 % of exchange requests
failing across every fault kind, and the live process SIGKILLed five times after a random
number of decisions (not seconds: as strict on a fast machine as on a slow one) and restarted.
Afterwards: no duplicate order, no exchange order or trade missing from the journal, and the
exchange's balances equal what the journal's fills say."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.config import load_config
from papertrade.exchange_sim.server import EmulatorServer
from papertrade.runner import run_backtest
from tests.conftest import ALTS, FLAGSHIP, ROOT

pytestmark = pytest.mark.slow

SYMBOLS = ["BTC/USDT", *ALTS]
FAULTS = [  # every kind, on every Binance route; about 12 % of requests fail
    {"kind": "rate_limit", "rate": 0.035, "seed": 1, "retry_after": 1},
    {"kind": "server_error", "rate": 0.035, "seed": 2, "status": 502},
    {"kind": "unknown_status", "rate": 0.02, "seed": 3},
    {"kind": "response_lost", "rate": 0.025, "seed": 4},
    {"kind": "timeout", "rate": 0.006, "seed": 5, "latency_ms": 700},
    {"kind": "ban", "rate": 0.002, "seed": 6, "retry_after": 1},
    {"kind": "latency", "rate": 0.05, "seed": 7, "latency_ms": 30},
]
FAILING = {"rate_limit", "server_error", "unknown_status", "response_lost", "timeout", "ban"}


def live_command(runs: Path, url: str) -> list[str]:
    return [
        sys.executable, "-m", "papertrade.cli", "live", str(FLAGSHIP), "--until", "2021-12-30",
        "--set", f"runs_dir={runs}", "--set", "broker.mode=emulator",
        "--set", f"broker.emulator.url={url}", "--set", "broker.emulator.start=2020-10-01",
        "--set", "live.decision_delay_seconds=0",
        "--set", "live.retries=8", "--set", "live.backoff_seconds=0.01",
        "--set", "live.backoff_max_seconds=0.1", "--set", "live.request_timeout_seconds=0.4",
    ]


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    runs = tmp_path_factory.mktemp("chaos")
    emulator = EmulatorServer(symbols=SYMBOLS, start="2020-10-01", spread_bps=5,
                              taker_fee="0.001", maker_fee="0.001", balances={"USDT": 10_000})
    url = emulator.start()
    emulator.set_faults(FAULTS)
    env = {**os.environ, "PAPERTRADE_EMULATOR_KEY": emulator.api_key,
           "PAPERTRADE_EMULATOR_SECRET": emulator.secret}
    rng = random.Random(2024)
    kills = 0
    try:
        while True:
            process = subprocess.Popen(live_command(runs, url), env=env, cwd=ROOT,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if kills < 5:
                # killed after a random number of new decisions, however fast the machine is
                target = decided(runs) + rng.randint(15, 60)
                while process.poll() is None and decided(runs) < target:
                    time.sleep(0.01)
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    kills += 1
                    continue
            out, err = process.communicate(timeout=900)
            assert process.returncode == 0, err.decode()[-3000:]
            break
        state = emulator.state()
        emulator.set_faults([])
        client = make_emulator_client(url, emulator.api_key, emulator.secret)
        orders = [o for s in SYMBOLS for o in client.fetch_orders(s, limit=1000)]
        trades = [t for s in SYMBOLS for t in client.fetch_my_trades(s, limit=1000)]
        balances = {a: f + locked for a, (f, locked) in emulator.balances().items()}
    finally:
        emulator.stop()
    folders = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith("_")]
    return {"folders": folders, "kills": kills, "orders": orders, "trades": trades,
            "state": state, "balances": balances, "stdout": out.decode()}


def decided(runs: Path) -> int:
    """Decisions journalled so far by the run under ``runs`` (0 before its journal exists)."""
    for folder in runs.glob("*-emulator-*"):
        try:
            with sqlite3.connect(f"file:{folder / 'journal.sqlite'}?mode=ro", uri=True) as db:
                return int(db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])
        except sqlite3.Error:
            return 0
    return 0


def journal(folder: Path, sql: str) -> pd.DataFrame:
    with sqlite3.connect(f"file:{folder / 'journal.sqlite'}?mode=ro", uri=True) as db:
        return pd.read_sql_query(sql, db)


def test_chaos_was_real(chaos: dict[str, object]) -> None:
    assert chaos["kills"] >= 5
    state = chaos["state"]
    assert isinstance(state, dict)
    fired = Counter({r["kind"]: r["fired"] for r in state["faults"]})
    assert all(fired[kind] > 0 for kind in FAILING), fired
    binance = sum(n for route, n in state["requests"].items() if "/api/v3/" in route)
    failed = sum(fired[kind] for kind in FAILING)
    assert failed / binance >= 0.10, (failed, binance)


def test_one_run_folder_resumed_to_the_end(chaos: dict[str, object]) -> None:
    folders = chaos["folders"]
    assert isinstance(folders, list)
    assert len(folders) == 1, folders
    manifest = json.loads((folders[0] / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert len(manifest["resumed"]) >= 5
    decided = journal(folders[0], "SELECT time FROM decisions")["time"]
    assert decided.is_unique
    assert decided.iloc[-1] == "2021-12-31T00:00:00Z"


def test_no_duplicate_and_no_lost_order(chaos: dict[str, object]) -> None:
    folder = chaos["folders"][0]  # type: ignore[index]
    orders = chaos["orders"]
    assert isinstance(orders, list)
    exchange_ids = [o["clientOrderId"] for o in orders]
    assert len(exchange_ids) == len(set(exchange_ids)), "an order was sent twice"
    ours = journal(folder, "SELECT client_order_id, status FROM orders")
    assert not ours["status"].isin(["planned", "submitting", "unknown"]).any()
    filled = set(ours.loc[ours["status"] == "filled", "client_order_id"])
    assert set(exchange_ids) == filled
    assert len(filled) >= 20


def test_no_lost_fill_and_balances_match_the_journal(chaos: dict[str, object]) -> None:
    folder = chaos["folders"][0]  # type: ignore[index]
    trades = chaos["trades"]
    assert isinstance(trades, list)
    fills = journal(folder, "SELECT symbol, side, qty, price, fee, fee_currency, trade_id "
                            "FROM fills")
    assert fills["trade_id"].is_unique
    exchange_trades = {f"{t['symbol'].replace('/', '')}-{t['id']}" for t in trades}
    assert set(fills["trade_id"]) == exchange_trades
    expected: dict[str, Decimal] = {"USDT": Decimal(10_000)}
    for row in fills.itertuples():
        base = row.symbol.split("/")[0]
        qty, notional = Decimal(str(row.qty)), Decimal(str(row.qty)) * Decimal(str(row.price))
        sign = 1 if row.side == "buy" else -1
        expected[base] = expected.get(base, Decimal(0)) + sign * qty
        expected["USDT"] = expected["USDT"] - sign * notional
        expected[row.fee_currency] = expected.get(row.fee_currency, Decimal(0)) - Decimal(
            str(row.fee))
    balances = chaos["balances"]
    assert isinstance(balances, dict)
    for asset in set(expected) | set(balances):
        have = Decimal(str(balances.get(asset, 0)))
        want = expected.get(asset, Decimal(0))
        assert abs(have - want) <= Decimal("1e-6") * max(Decimal(1), abs(want)), asset


def test_decisions_under_chaos_are_the_backtests(
    chaos: dict[str, object], tmp_path: Path
) -> None:
    folder = chaos["folders"][0]  # type: ignore[index]
    backtest = run_backtest(load_config(FLAGSHIP, [f"runs_dir={tmp_path}",
                                                   "data.start=2020-10-01",
                                                   "data.end=2021-12-31"]), report=False).folder
    live = journal(folder, "SELECT time, targets FROM decisions").set_index("time")
    ref = journal(backtest, "SELECT time, targets FROM decisions").set_index("time")
    assert len(live) >= 450
    for when, row in live.iterrows():
        assert json.loads(row["targets"]) == pytest.approx(
            json.loads(ref.at[when, "targets"]), abs=1e-12), when
