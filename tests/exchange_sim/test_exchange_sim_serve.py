"""The state file across restarts, and ``papertrade exchange serve`` as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from emulator_helpers import EmulatorFactory

from papertrade.brokers.ccxt_emulator import make_emulator_client

SERVE = [sys.executable, "-c", "from papertrade.exchange_sim.cli import app; app()", "serve"]


def test_state_file_survives_a_restart(emulator_factory: EmulatorFactory, tmp_path: Path) -> None:
    state_file = tmp_path / "emulator.json"
    first = emulator_factory(state_file=state_file)
    ex = make_emulator_client(first.base_url, first.api_key, first.secret)
    ex.create_order("BTC/USDT", "market", "buy", 0.01, params={"newClientOrderId": "s-1"})
    resting = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 30000.0,
                              params={"newClientOrderId": "s-2"})
    first.clock.advance(3600)
    balances_before = first.balances()
    first.stop()
    assert state_file.stat().st_mode & 0o777 == 0o600

    second = emulator_factory(state_file=state_file)
    assert (second.api_key, second.secret) == (first.api_key, first.secret)
    assert second.clock.now_ms() == first.clock.now_ms()
    assert second.balances() == balances_before
    ex2 = make_emulator_client(second.base_url, second.api_key, second.secret)
    assert [o["id"] for o in ex2.fetch_open_orders("BTC/USDT")] == [resting["id"]]
    assert ex2.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "s-1"})["filled"] == 0.01
    newer = ex2.create_order("BTC/USDT", "market", "buy", 0.001, params={"newClientOrderId": "s-3"})
    assert int(newer["id"]) == int(resting["id"]) + 1
    assert len(ex2.fetch_my_trades("BTC/USDT")) == 2


def test_serve_prints_credentials_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*SERVE, "--json", "--symbols", "BTC/USDT", "--start", "2024-01-01",
         "--state", str(tmp_path / "state.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        banner = json.loads(proc.stdout.readline())
        assert banner["base_url"].startswith("http://127.0.0.1:")
        assert banner["clock"]["now"] == "2024-01-01T00:00:00.000Z"
        ex = make_emulator_client(banner["base_url"], banner["api_key"], banner["secret"])
        assert ex.fetch_balance()["USDT"]["free"] == 10_000
        with urllib.request.urlopen(banner["base_url"] + "/api/v3/ping", timeout=5) as answer:
            assert json.loads(answer.read()) == {}
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert banner["secret"] not in stderr
    assert banner["api_key"] not in stderr
    assert (tmp_path / "state.json").exists()


def test_serve_refuses_a_public_interface_without_the_flag() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([*SERVE, "--host", "0.0.0.0", "--symbols", "BTC/USDT"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert "loopback" in done.stderr


def test_cli_app_mounts_as_a_subcommand() -> None:
    import typer
    from typer.testing import CliRunner

    from papertrade.exchange_sim.cli import app

    root = typer.Typer()

    @root.command()
    def version() -> None:
        """Another command, as in papertrade's own CLI."""

    root.add_typer(app, name="exchange")
    result = CliRunner().invoke(root, ["exchange", "serve", "--help"])
    assert result.exit_code == 0, result.output
    assert "--speed" in result.output
    assert "--allow-remote" in result.output
