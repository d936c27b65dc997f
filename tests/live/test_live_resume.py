"""Starting and restarting against an account that is not empty: orders papertrade did not
place are reported and left alone; ``--once`` makes exactly one decision; a plain restart of
the same config carries the same run folder on."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.config import load_config
from papertrade.exchange_sim.server import EmulatorServer
from papertrade.live.session import run_live
from papertrade.runner import build_strategy
from tests.conftest import FLAGSHIP


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch,
             flagship_emulator: Callable[[str], EmulatorServer]) -> EmulatorServer:
    server = flagship_emulator("2020-11-10")
    monkeypatch.setenv("PAPERTRADE_EMULATOR_KEY", server.api_key)
    monkeypatch.setenv("PAPERTRADE_EMULATOR_SECRET", server.secret)
    return server


def run(tmp: Path, emulator: EmulatorServer, until: str | None, once: bool = False) -> Path:
    loaded = load_config(FLAGSHIP, [f"runs_dir={tmp}", "broker.mode=emulator",
                                    f"broker.emulator.url={emulator.base_url}",
                                    "broker.emulator.start=2020-11-10",
                                    "live.decision_delay_seconds=0"])
    day = dt.date.fromisoformat(until) if until else None
    return run_live(loaded, build_strategy(loaded), until=day, once=once).folder


def rows(folder: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{folder / 'journal.sqlite'}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def test_foreign_order_is_reported_left_alone_and_restart_resumes(
    tmp_path: Path, emulator: EmulatorServer,
) -> None:
    client = make_emulator_client(emulator.base_url, emulator.api_key, emulator.secret)
    manual = client.create_order("BTC/USDT", "limit", "buy", 0.01, 1000.0,
                                 {"newClientOrderId": "manual-order-1"})
    first = run(tmp_path, emulator, None, once=True)
    assert len(rows(first, "SELECT time FROM decisions")) == 1
    events = rows(first, "SELECT message FROM events WHERE kind = 'foreign_order'")
    assert len(events) == 1
    assert "manual-order-1" in str(events[0][0])
    assert "left alone" in str(events[0][0])
    assert client.fetch_order(manual["id"], "BTC/USDT")["status"] == "open"
    assert not rows(first, "SELECT 1 FROM orders WHERE client_order_id = 'manual-order-1'")

    # a plain restart of the same config (its manifest says running: --once stops it as
    # finished, so mark it as a crash would leave it) carries the same folder on
    manifest = json.loads((first / "manifest.json").read_text())
    (first / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    second = run(tmp_path, emulator, "2020-11-20")
    assert second == first
    decided = [t for (t,) in rows(second, "SELECT time FROM decisions ORDER BY time")]
    assert len(decided) == len(set(decided))
    assert decided[-1] == "2020-11-21T00:00:00Z"
    # the breakout of 2020-11-13 bought BTC once; the manual order is still open
    buys = rows(second, "SELECT client_order_id FROM orders WHERE side = 'buy'")
    assert len(buys) == 1
    assert client.fetch_order(manual["id"], "BTC/USDT")["status"] == "open"


def test_an_exchange_ban_at_start_up_is_ridden_out(
    tmp_path: Path, emulator: EmulatorServer,
) -> None:
    # the first account request gets HTTP 418: every request is refused for the next second,
    # longer than the whole retry budget of one call
    emulator.set_faults([{"route": "GET /api/v3/account", "kind": "ban", "count": 1,
                          "retry_after": 1}])
    loaded = load_config(FLAGSHIP, [f"runs_dir={tmp_path}", "broker.mode=emulator",
                                    f"broker.emulator.url={emulator.base_url}",
                                    "broker.emulator.start=2020-11-10",
                                    "live.decision_delay_seconds=0", "live.retries=2",
                                    "live.backoff_seconds=0.01", "live.backoff_max_seconds=0.2"])
    folder = run_live(loaded, build_strategy(loaded), until=dt.date(2020, 11, 14)).folder
    outages = rows(folder, "SELECT message FROM events WHERE kind = 'outage'")
    assert outages
    assert str(outages[0][0]).startswith("start: ")
    assert [t for (t,) in rows(folder, "SELECT time FROM decisions ORDER BY time")][-1] == (
        "2020-11-15T00:00:00Z")
    assert len(rows(folder, "SELECT 1 FROM fills")) == 1  # the 2020-11-13 breakout buy
