"""The emulator URL edge: one loopback check that parses like requests does, and a one-line
error (exit code 4) when the emulator cannot be reached.

``http://api.binance.com\\@127.0.0.1:1`` used to pass the loopback check (urllib reads the host
as 127.0.0.1, requests and urllib3 as api.binance.com); an unreachable ``broker.emulator.url``
ended in a raw ``URLError`` traceback with exit code 1.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from test_live_guard import KEYS, guarded, one_line_error
from urllib3.util import parse_url

from papertrade.brokers.ccxt_emulator import (
    emulator_clock_ms,
    make_emulator_client,
    move_emulator_clock,
)
from papertrade.config_models import _is_loopback_url
from papertrade.errors import BrokerRejected, BrokerUnavailable
from papertrade.exchange_sim.server import EmulatorServer
from tests.conftest import FLAGSHIP

LOOPBACK = ["http://127.0.0.1:8080", "http://127.0.0.1:8080/", "https://localhost:1",
            "http://[::1]:9", "http://LOCALHOST:5", "http://127.5.6.7", "HTTP://127.0.0.1:8"]
REFUSED = [
    "http://api.binance.com\\@127.0.0.1:1",  # requests: api.binance.com; urllib: 127.0.0.1
    "http://api.binance.com\\\\@127.0.0.1:1", "http://127.0.0.1:1\\@api.binance.com",
    "http://a@127.0.0.1:1", "http://api.binance.com:443@127.0.0.1:1", "http://127.0.0.1:1#@x",
    "http://127.0.0.1:1?@x", "http://127.0.0.1:1/api", "http://127.0.0.1:99999",
    "http://127.0.0.1:abc", "http://127.0.0.1:+8", "ftp://127.0.0.1", "http://127.1:8",
    "http://localhost.:8", "http://127.0.0.1.nip.io:8", " http://127.0.0.1:8",
    "http://127.0.0.1:8\t", "http://127.0.0.1\n:8", "http://127.0.0.1\x00:8", "http://0.0.0.0:8",
    "http://127.0.0.1%2e:8", "http:///127.0.0.1:8", "http:127.0.0.1:8", "http://[::1%25lo]:8",
    "http://１２７.0.0.1:8", "https://api.binance.com", "http://203.0.113.7:8080", "",
    "http://" + "1" * 100_000,
]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("url", LOOPBACK)
def test_loopback_urls_are_accepted_and_requests_agrees(url: str) -> None:
    assert _is_loopback_url(url)
    prepared = requests.Request("GET", url.rstrip("/") + "/_emulator/clock").prepare()
    host = (parse_url(prepared.url).host or "").strip("[]").lower()
    assert host in ("127.0.0.1", "127.5.6.7", "localhost", "::1")


@pytest.mark.parametrize("url", REFUSED, ids=lambda u: repr(u)[:40])
def test_ambiguous_or_remote_urls_are_refused(url: str) -> None:
    assert not _is_loopback_url(url)
    with pytest.raises(ValueError, match="loopback") as refused:
        make_emulator_client(url, "k", "s")
    assert len(str(refused.value)) <= 300 and "\n" not in str(refused.value)


def test_the_backslash_url_really_goes_elsewhere_with_requests() -> None:
    """Why the backslash is refused: requests sends this one to api.binance.com."""
    prepared = requests.Request("GET", "http://api.binance.com\\@127.0.0.1:1").prepare()
    assert parse_url(prepared.url).host == "api.binance.com"


def test_a_backslash_userinfo_url_is_refused_before_any_request(tmp_path: Path) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--once",
                              "--set", "broker.mode=emulator",
                              "--set", "broker.emulator.url=http://api.binance.com\\@127.0.0.1:1",
                              env=KEYS)
    line = one_line_error(result)
    assert "broker.emulator.url" in line and "not a loopback address" in line
    assert network == []


def test_an_unreachable_emulator_is_one_line_and_exit_code_4(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--once",
                              "--set", "broker.mode=emulator",
                              "--set", f"broker.emulator.url={url}", env=KEYS)
    assert result.returncode == 4, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith(f"error: cannot reach the exchange emulator at {url}")
    assert "papertrade exchange serve" in lines[0] and "broker.emulator.url" in lines[0]
    assert network and all(x.endswith("127.0.0.1") for x in network), network


def test_clock_lookups_name_what_went_wrong(
    running_emulators: Callable[..., EmulatorServer],
) -> None:
    server = running_emulators(symbols=["BTC/USDT"], start="2024-01-01")
    assert emulator_clock_ms(server.base_url) == 1704067200000
    move_emulator_clock(server.base_url, "2024-01-02T00:00:00Z")
    assert emulator_clock_ms(server.base_url + "/") == 1704153600000
    with pytest.raises(BrokerRejected, match="answered 400"):  # backwards
        move_emulator_clock(server.base_url, "2023-01-01T00:00:00Z")
    with socket.socket() as other:  # something that is not an HTTP server at all
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(BrokerUnavailable, match="cannot reach the exchange emulator"):
            emulator_clock_ms(f"http://127.0.0.1:{other.getsockname()[1]}", timeout=0.5)
    with pytest.raises(ValueError, match="loopback"):
        emulator_clock_ms("http://api.binance.com\\@127.0.0.1:1")
