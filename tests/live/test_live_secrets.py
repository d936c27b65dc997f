"""API keys never leave the environment: not into any file of the run folder, not into the logs,
not into error messages or tracebacks.

Each run is a real ``papertrade -v live`` subprocess (verbose: INFO logs and tracebacks) trading
through the real ccxt client against an exchange emulator on loopback started by the test, with
the emulator's credentials in the environment variables the config names:

- a replay through the 2020-11-14 breakout buy with faults of every kind on (server errors, rate
  limits, a timeout, a lost order response, an "execution status unknown"), so the retry, lookup
  and error paths all log and journal;
- the same with a wrong secret: the authentication failure exits 2 with a one-line error;
- a testnet config on an exchange without a sandbox, keys in the environment: refused, exit 2.

Then every byte of every file under the run folder (journal.sqlite and its -wal/-shm, the data
cache, run.log, manifest.json, config.yaml, the CSVs) and the captured stdout and stderr are
searched for the key, the secret (or a 16-character piece of either) and ``signature=``.
"""

from __future__ import annotations

import csv
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from papertrade.exchange_sim.faults import FaultRule
from papertrade.exchange_sim.server import EmulatorServer
from tests.conftest import FLAGSHIP, ROOT

LIVE = ["broker.mode=emulator", "broker.emulator.start=2020-11-12",
        "live.decision_delay_seconds=0", "live.backoff_seconds=0.01",
        "live.backoff_max_seconds=0.05", "live.request_timeout_seconds=1"]
FAULTS: list[FaultRule | dict[str, Any]] = [
    {"route": "POST /api/v3/order", "kind": "response_lost", "count": 1},  # placed, unanswered
    {"route": "GET /api/v3/order", "kind": "unknown_status", "count": 1},  # its lookup: -1007
    {"route": "GET /api/v3/account", "kind": "server_error", "rate": 0.3, "seed": 1},
    {"route": "GET /api/v3/myTrades", "kind": "timeout", "latency_ms": 1500, "count": 1},
    {"route": "*", "kind": "rate_limit", "rate": 0.05, "seed": 2, "retry_after": 0},
]


@pytest.fixture
def emulator(flagship_emulator: Callable[[str], EmulatorServer]) -> EmulatorServer:
    return flagship_emulator("2020-11-12")


def papertrade(tmp: Path, env: dict[str, str], *args: str, sets: list[str],
               verbose: bool = True) -> subprocess.CompletedProcess[str]:
    options = [x for s in [f"runs_dir={tmp}", *sets] for x in ("--set", s)]
    return subprocess.run(
        [sys.executable, "-m", "papertrade.cli", *(["-v"] if verbose else []), "live",
         str(FLAGSHIP), *args, *options],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


def leaks(needles: list[str], tmp: Path, *outputs: str) -> list[str]:
    """Where any needle (or a 16-character piece of one) occurs: run-folder files, outputs."""
    pieces = {n[i:i + 16] for n in needles for i in range(0, len(n) - 15, 8)} | set(needles)
    pieces.add("signature=")
    found = []
    files = [p for p in tmp.rglob("*") if p.is_file()]
    assert any(p.name == "journal.sqlite" for p in files) and any(p.name == "run.log"
                                                                  for p in files)
    for path in files:
        data = path.read_bytes()
        found += [f"{path.relative_to(tmp)}: {p}" for p in pieces if p.encode() in data]
    for index, text in enumerate(outputs):
        found += [f"output {index}: {p}" for p in pieces if p in text]
    return found


def test_no_key_in_the_run_folder_or_logs_under_faults(
    tmp_path: Path, emulator: EmulatorServer,
) -> None:
    emulator.set_faults(FAULTS)
    env = {"PAPERTRADE_EMULATOR_KEY": emulator.api_key,
           "PAPERTRADE_EMULATOR_SECRET": emulator.secret}
    result = papertrade(tmp_path, env, "--until", "2020-11-16",
                        sets=[*LIVE, f"broker.emulator.url={emulator.base_url}"])
    assert result.returncode == 0, result.stderr[-3000:]
    # every fault kind fired, and the error paths logged about it
    fired = {rule["kind"]: rule["fired"] for rule in emulator.faults.rules()}
    assert all(isinstance(n, int) and n >= 1 for n in fired.values()), fired
    assert "retry" in result.stderr and "looking it up before any re-send" in result.stderr
    (folder,) = [p for p in tmp_path.iterdir() if not p.name.startswith("_")]  # _assets: plotly
    assert "retry" in (folder / "run.log").read_text()
    assert leaks([emulator.api_key, emulator.secret], tmp_path,
                 result.stdout, result.stderr) == []
    # control: the same search finds what the journal does hold (the breakout buy's order id)
    with (folder / "trades.csv").open() as trades:
        coid = next(csv.DictReader(trades))["client_order_id"]
    assert f"{folder.name}/journal.sqlite: {coid}" in leaks([coid], tmp_path)


def test_no_key_when_the_secret_is_wrong(tmp_path: Path, emulator: EmulatorServer) -> None:
    wrong = secrets.token_hex(32)
    env = {"PAPERTRADE_EMULATOR_KEY": emulator.api_key, "PAPERTRADE_EMULATOR_SECRET": wrong}
    sets = [*LIVE, f"broker.emulator.url={emulator.base_url}"]
    until = ["--until", "2020-11-13"]  # the first decision with a private call: the balances
    quiet = papertrade(tmp_path / "quiet", env, *until, sets=sets, verbose=False)
    assert quiet.returncode == 2, quiet.stderr[-3000:]
    assert len(quiet.stderr.strip().splitlines()) == 1
    assert quiet.stderr.startswith("error: ") and "auth" in quiet.stderr.lower()
    verbose = papertrade(tmp_path / "verbose", env, *until, sets=sets)
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr  # -v: the error path's traceback is shown ...
    assert leaks([emulator.api_key, emulator.secret, wrong], tmp_path, quiet.stdout,
                 quiet.stderr, verbose.stdout, verbose.stderr) == []  # ... and holds no key


def test_no_key_when_a_testnet_exchange_is_refused(tmp_path: Path) -> None:
    key, secret = secrets.token_hex(32), secrets.token_urlsafe(32)
    env = {"PAPERTRADE_API_KEY": key, "PAPERTRADE_API_SECRET": secret}
    result = papertrade(tmp_path, env, "--once",
                        sets=["broker.mode=testnet", "broker.exchange=kraken"])
    assert result.returncode == 2
    assert "kraken has no sandbox" in result.stderr
    assert leaks([key, secret], tmp_path, result.stdout, result.stderr) == []
