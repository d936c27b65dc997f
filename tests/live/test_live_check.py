"""``papertrade live --check`` really checks, and trades nothing (issue 14, item 3).

Each case runs the command in-process against a running emulator (the real ccxt client over
loopback HTTP) and reads the emulator's request log afterwards: a wrong secret, a closed
loopback port, a symbol the venue does not list and cash below the minimum notional each end
with a ``FAIL`` line naming the fix and a non-zero exit; a good setup passes with exit 0; no
order endpoint is ever called.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from papertrade.exchange_sim.server import EmulatorServer
from tests.cli_harness import CliResult, run_cli
from tests.conftest import FLAGSHIP

START = "2021-01-01"


def _check(capsys: pytest.CaptureFixture[str], tmp: Path, url: str, *sets: str) -> CliResult:
    argv = ["live", str(FLAGSHIP), "--check", "--set", "broker.mode=emulator",
            "--set", f"broker.emulator.url={url}", "--set", f"runs_dir={tmp / 'runs'}"]
    for item in sets:
        argv += ["--set", item]
    result = run_cli(argv, capsys, limit=60)
    assert "Traceback" not in result.out + result.err
    assert not (tmp / "runs").exists(), "--check created a run folder"
    return result


def _keys(monkeypatch: pytest.MonkeyPatch, server: EmulatorServer, secret: str | None = None
          ) -> None:
    monkeypatch.setenv("PAPERTRADE_EMULATOR_KEY", server.api_key)
    monkeypatch.setenv("PAPERTRADE_EMULATOR_SECRET", secret or server.secret)


def _fails(result: CliResult) -> list[str]:
    assert result.code != 0, result.out
    lines = result.out.splitlines()
    assert lines and all(x.startswith(("ok   ", "FAIL ")) for x in lines), lines
    fails = [x for x in lines if x.startswith("FAIL ")]
    assert fails and all("; fix: " in x for x in fails), lines
    return fails


def _traded_nothing(server: EmulatorServer) -> None:
    requests = server.state()["requests"]
    assert isinstance(requests, dict)
    assert {"GET /api/v3/exchangeInfo", "GET /api/v3/account", "GET /api/v3/time"} <= set(requests)
    trading = [r for r in requests if "order" in r.lower() or "mytrades" in r.lower()
               or not r.startswith("GET ")]
    assert trading == [], requests


@pytest.fixture
def venue(flagship_emulator: Callable[[str], EmulatorServer]) -> EmulatorServer:
    return flagship_emulator(START)


def test_all_good_passes_with_exit_0(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     venue: EmulatorServer) -> None:
    _keys(monkeypatch, venue)
    result = _check(capsys, tmp_path, venue.base_url)
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert all(x.startswith("ok   ") for x in lines), lines
    for fragment in ("authenticated: the account answered a private read",
                     "9 traded symbols listed and trading on emulator", "clock skew",
                     "candles of 9 symbols answered", "data RUT: bundled answered",
                     "cash 10,000.00 USDT covers the minimum notional"):
        assert any(fragment in x for x in lines), (fragment, lines)
    assert venue.state()["requests"]["GET /api/v3/account"] == 1  # type: ignore[index]
    _traded_nothing(venue)


def test_a_wrong_secret_fails_authentication(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             venue: EmulatorServer) -> None:
    _keys(monkeypatch, venue, secret="0" * 64)
    (fail,) = _fails(_check(capsys, tmp_path, venue.base_url))
    assert fail.startswith("FAIL authentication (private read of the account) failed")
    assert "$PAPERTRADE_EMULATOR_SECRET" in fail and "0" * 64 not in fail
    _traded_nothing(venue)


def test_an_unreachable_url_fails_with_how_to_start_the_emulator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    venue: EmulatorServer,
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _keys(monkeypatch, venue)
    (fail,) = _fails(_check(capsys, tmp_path, f"http://127.0.0.1:{port}"))
    assert fail.startswith(f"FAIL venue unreachable: cannot reach the exchange emulator at "
                           f"http://127.0.0.1:{port}")
    assert "fix: start `papertrade exchange serve`" in fail
    assert venue.state()["requests"] == {}


def test_an_unlisted_symbol_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  running_emulators: Callable[..., EmulatorServer]) -> None:
    server = running_emulators(symbols=["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT",
                                        "XRP/USDT", "ADA/USDT", "DOGE/USDT", "AVAX/USDT"],
                               start=START, balances={"USDT": 10_000})
    _keys(monkeypatch, server)
    (fail,) = _fails(_check(capsys, tmp_path, server.base_url))
    assert fail.startswith("FAIL LINK/USDT is not listed on emulator; fix: trade only symbols "
                           "the venue lists")
    _traded_nothing(server)


def test_cash_below_the_minimum_notional_fails(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               running_emulators: Callable[..., EmulatorServer]
                                               ) -> None:
    server = running_emulators(symbols=["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT",
                                        "XRP/USDT", "ADA/USDT", "DOGE/USDT", "AVAX/USDT",
                                        "LINK/USDT"], start=START, balances={"USDT": 20})
    _keys(monkeypatch, server)
    (fail,) = _fails(_check(capsys, tmp_path, server.base_url))
    # the flagship holds up to six alts at 1/6 each: 20 USDT / 6 = 3.33 < 5 USDT minimum
    assert fail.startswith("FAIL cash 20.00 USDT is below the minimum notional of the intended "
                           "orders"), fail
    assert "at 16.7% of equity is 3.33 USDT, against emulator's minimum notional 5.00 USDT" in fail
    assert "fix: fund the account (broker.cash, or a deposit) with at least 30.00 USDT" in fail
    _traded_nothing(server)
