"""The state file across restarts, and ``papertrade exchange serve`` as a process."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from emulator_helpers import EmulatorFactory

from papertrade.brokers.ccxt_emulator import make_emulator_client

SERVE = [sys.executable, "-m", "papertrade.cli", "exchange", "serve"]


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
    line = _serve_error("--host", "0.0.0.0")
    assert "refusing to bind 0.0.0.0" in line and "loopback" in line


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


def _serve_error(*args: str) -> str:
    """``papertrade exchange serve ARGS`` must fail: exit 2, one ``error:`` line, no traceback."""
    done = subprocess.run([*SERVE, "--symbols", "BTC/USDT", *args], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, (done.returncode, done.stdout[-1000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
    assert len(lines[0]) <= 400 and done.stdout == ""
    return lines[0]


def test_serve_exits_2_when_the_port_is_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _serve_error("--port", str(port))
    assert f"127.0.0.1:{port}" in line and "in use" in line and "--port" in line


def test_serve_exits_2_on_a_state_file_it_cannot_resume(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json" + "x" * 50_000)
    line = _serve_error("--state", str(state))
    assert str(state) in line and "cannot be resumed" in line
    # what `advance_seconds: 1e13` used to leave behind: a clock in the year 318,000
    state.write_text(json.dumps({"format": 1, "clock_ms": 10**16, "accounts": []}))
    line = _serve_error("--state", str(state))
    assert str(state) in line and "outside the emulator's range" in line


@pytest.mark.parametrize("args", [
    ["--balance", "USDT=abc"], ["--balance", "USDT=NaN"], ["--balance", "oops"],
    ["--maker-fee", "abc"], ["--taker-fee", "2"], ["--speed", "nan"], ["--speed", "-1"],
    ["--port", "70000"], ["--start", "not-a-date" + "x" * 20_000], ["--start", "9999-01-01"],
    ["--spread-bps", "-1"], ["--partial-fill-ratio", "nan"], ["--symbols", "NOPE/USDT"],
], ids=lambda a: " ".join(a)[:30])
def test_serve_exits_2_on_a_bad_option(args: list[str]) -> None:
    _serve_error(*args)
