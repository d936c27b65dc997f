"""The mainnet guard at the config level: a live config that would trade somewhere other than a
sandbox or the local emulator is refused before any request, with one line and exit code 2.

Every command runs in a subprocess whose Python audit hook records each DNS lookup and socket
connection (``socket.getaddrinfo``, ``socket.connect``, ...) to a file and refuses any that is
not loopback, so a request that slips through is both prevented and seen. A control run through
the in-process emulator proves the hook sees the real ccxt client's connections.

- ``broker.mode: testnet`` on an exchange without a spot sandbox (kraken): exit 2, one line
  naming the problem, no lookup, no connection;
- an emulator URL that is not loopback (a mainnet host, a remote address): refused the same way;
- ``papertrade live --check``: for testnet without keys it lists the missing keys and exits 2
  without a traceback; for the in-process emulator every line is ok and it exits 0; a
  non-loopback emulator URL is reported; nothing leaves the machine and no run folder is
  created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from papertrade.errors import BrokerRejected
from tests.conftest import FLAGSHIP, ROOT

PROBE = r"""
import os, sys

LOG = os.open(os.environ["PAPERTRADE_TEST_NETLOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
EVENTS = {"socket.connect": 1, "socket.sendto": 1, "socket.getaddrinfo": 0,
          "socket.gethostbyname": 0, "socket.gethostbyname_ex": 0, "socket.gethostbyaddr": 0}


def host_of(event, args):
    target = args[EVENTS[event]]
    if isinstance(target, tuple):
        target = target[0]
    return target.decode() if isinstance(target, bytes) else str(target)


def hook(event, args):
    if event in EVENTS:
        host = host_of(event, args)
        os.write(LOG, f"{event} {host}\n".encode())
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            raise PermissionError(f"test audit hook: no network ({event} {host})")


sys.addaudithook(hook)
from papertrade.cli import main

main(sys.argv[1:])
"""
KEYS = {"PAPERTRADE_API_KEY": "k" * 24, "PAPERTRADE_API_SECRET": "s" * 24,
        "PAPERTRADE_EMULATOR_KEY": "k" * 24, "PAPERTRADE_EMULATOR_SECRET": "s" * 24}


def guarded(tmp: Path, *args: str, env: dict[str, str] | None = None
            ) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``papertrade ARGS`` under the audit hook: the result, and every network event."""
    netlog = tmp / "network.log"
    netlog.touch()
    clean = {k: v for k, v in os.environ.items() if k not in KEYS}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args, "--set", f"runs_dir={tmp / 'runs'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**clean, **(env or {}), "PAPERTRADE_TEST_NETLOG": str(netlog)},
    )
    return result, netlog.read_text().splitlines()


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    return lines[0]


class Recorder(HTTPAdapter):
    """A transport that records every request and sends none."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        self.sent.append(str(request.url))
        raise requests.ConnectionError("the test transport sends nothing")


def assert_url_change_refused(broker: Any) -> None:
    """A mainnet URL set on a started broker's client is refused before anything is sent."""
    client = broker._client
    recorder = Recorder()
    client.session.mount("https://", recorder)
    client.session.mount("http://", recorder)
    client.urls["api"]["private"] = "https://api.binance.com/api/v3"
    with pytest.raises(BrokerRejected, match="not a sandbox URL"):
        broker.balances()
    assert recorder.sent == []


def test_the_audit_hook_sees_the_ccxt_clients_connections(tmp_path: Path) -> None:
    """Control: a short run through the in-process emulator connects, on loopback only."""
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--until", "2020-11-13",
                              "--set", "broker.mode=emulator",
                              "--set", "broker.emulator.start=2020-11-12",
                              "--set", "live.decision_delay_seconds=0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "socket.connect 127.0.0.1" in network
    assert all(line.endswith(("127.0.0.1", "localhost")) for line in network), network


def test_testnet_on_an_exchange_without_sandbox_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--set", "broker.mode=testnet",
                              "--set", "broker.exchange=kraken", env=KEYS)
    line = one_line_error(result)
    assert "kraken has no sandbox" in line and "will not trade on it" in line
    assert network == []


@pytest.mark.parametrize("url", ["https://api.binance.com", "http://203.0.113.7:8080"],
                         ids=["mainnet-host", "remote-address"])
def test_a_non_loopback_emulator_url_is_refused_before_any_request(
    tmp_path: Path, url: str,
) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--set", "broker.mode=emulator",
                              "--set", f"broker.emulator.url={url}", env=KEYS)
    assert network == [], "a request went out before the URL was refused"
    line = one_line_error(result)
    assert url in line and "loopback" in line


def test_check_lists_missing_testnet_keys_and_exits_2(tmp_path: Path) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--check",
                              "--set", "broker.mode=testnet")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(x.startswith("FAIL API key in $PAPERTRADE_API_KEY") for x in lines)
    assert any(x.startswith("FAIL API secret in $PAPERTRADE_API_SECRET") for x in lines)
    assert any(x.startswith("ok   binance testnet: sandbox host testnet.binance.vision")
               for x in lines), lines
    assert network == []
    assert not (tmp_path / "runs").exists()


def test_check_passes_for_the_in_process_emulator(tmp_path: Path) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--check",
                              "--set", "broker.mode=emulator")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(x.startswith("ok ") for x in lines), lines
    assert "in-process emulator" in result.stdout
    # it talks to the emulator it started, on loopback only
    assert network and all(line.endswith(("127.0.0.1", "localhost")) for line in network)
    assert not (tmp_path / "runs").exists()


def test_check_reports_a_non_loopback_emulator_url(tmp_path: Path) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--check",
                              "--set", "broker.mode=emulator",
                              "--set", "broker.emulator.url=https://api.binance.com", env=KEYS)
    # refused when the config is read, before any check could reach the network
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()
    assert len(error) == 1, result.stderr
    assert "broker.emulator.url" in error[0]
    assert "not a loopback address" in error[0]
    assert network == []
