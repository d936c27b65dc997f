"""Malformed requests against the emulator over real loopback sockets: every one gets an answer
(4xx, one line, no echo of a huge input), changes nothing, and the server keeps serving.

The control plane used to drop the connection with a traceback on NaN/Infinity/1e30/null
amounts and on infinite clock advances; ``advance_seconds: 1e13`` broke ``/_emulator/state``
and the state file; a ``Content-Length`` of ``abc``, ``-1``, ``1e11`` or ``3000000000`` got no
answer (or a multi-gigabyte read).
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import (
    CONTROL_CASES,
    HTTP_CASES,
    EmulatorFactory,
    control,
    post_json,
    raw_http,
)

from papertrade.exchange_sim.server import EmulatorServer
from papertrade.exchange_sim.transport import MAX_CONNECTIONS


def _snapshot(server: EmulatorServer) -> tuple[object, ...]:
    state = server.state()
    return state["clock"], state["accounts"], state["faults"]


def _assert_one_line(error: Any) -> None:
    assert isinstance(error, str) and error
    assert "\n" not in error and len(error) <= 300, error[:400]
    assert "Traceback" not in error


@pytest.mark.parametrize(("request_bytes"), [c[1] for c in CONTROL_CASES],
                         ids=[c[0] for c in CONTROL_CASES])
def test_malformed_control_input_is_refused_and_changes_nothing(
    emulator: EmulatorServer, request_bytes: bytes,
) -> None:
    before = _snapshot(emulator)
    status, answer = raw_http(emulator, request_bytes)
    assert status == 400, answer
    _assert_one_line(answer["error"])
    assert _snapshot(emulator) == before
    assert control(emulator, "GET", "/_emulator/state")[0] == 200


@pytest.mark.parametrize(("request_bytes", "expected"), [c[1:] for c in HTTP_CASES],
                         ids=[c[0] for c in HTTP_CASES])
def test_malformed_content_length_is_answered_not_read(
    emulator: EmulatorServer, request_bytes: bytes, expected: int,
) -> None:
    before = _snapshot(emulator)
    status, answer = raw_http(emulator, request_bytes)
    assert status == expected, answer
    _assert_one_line(answer["error"])
    assert _snapshot(emulator) == before
    assert control(emulator, "GET", "/_emulator/state")[0] == 200
    assert emulator.state()["requests"] == {}  # refused before routing


def test_valid_control_input_still_works(emulator: EmulatorServer) -> None:
    status, answer = raw_http(emulator, post_json("/_emulator/deposit",
                                                  '{"asset": "btc", "amount": 0.5}'))
    assert status == 200, answer
    assert answer["balances"]["BTC"]["free"] == "0.50000000"
    assert emulator.balances()["USDT"] == (Decimal(10_000), Decimal(0))
    status, clock = control(emulator, "POST", "/_emulator/clock", {"advance_seconds": "3600"})
    assert status == 200 and clock["now"] == "2024-01-01T01:00:00.000Z"
    status, clock = control(emulator, "POST", "/_emulator/clock", {"to": 1704157200000.0})
    assert status == 200 and clock["now"] == "2024-01-02T01:00:00.000Z"
    status, clock = control(emulator, "POST", "/_emulator/clock", {"to": "2199-12-31"})
    assert status == 200 and clock["now"] == "2199-12-31T00:00:00.000Z"


def test_in_process_api_validates_the_same_way(emulator: EmulatorServer) -> None:
    for amount in ("NaN", float("inf"), "1e30", None):
        with pytest.raises(ValueError, match="amount"):
            emulator.deposit("USDT", amount)
    with pytest.raises(ValueError, match="advance_seconds"):
        emulator.clock.advance(1e13)
    with pytest.raises(ValueError, match="advance_seconds"):
        emulator.clock.advance(float("inf"))
    assert emulator.balances()["USDT"] == (Decimal(10_000), Decimal(0))
    assert emulator.clock.describe()["now"] == "2024-01-01T00:00:00.000Z"


def test_a_refused_clock_move_keeps_state_and_state_file_usable(
    emulator_factory: EmulatorFactory, tmp_path: Path,
) -> None:
    state_file = tmp_path / "state.json"
    first = emulator_factory(state_file=state_file)
    assert raw_http(first, post_json("/_emulator/clock", '{"advance_seconds": 1e13}'))[0] == 400
    assert control(first, "GET", "/_emulator/state")[0] == 200
    first.clock.advance(60)
    first.stop()
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left
    second = emulator_factory(state_file=state_file)
    status, state = control(second, "GET", "/_emulator/state")
    assert status == 200
    assert state["clock"]["now"] == "2024-01-01T00:01:00.000Z"


def test_a_state_file_it_cannot_resume_is_refused_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    for content in ("not json", "[]", '{"format": 1, "clock_ms": 1e16, "accounts": []}',
                    '{"format": 1, "clock_ms": 0, "accounts": [{"secret": "s"}]}',
                    '{"format": 1, "clock_ms": 0, "accounts": []}'):
        bad.write_text(content)
        with pytest.raises(ValueError, match=r"state file .*state\.json") as refused:
            EmulatorServer(symbols=["BTC/USDT"], state_file=bad)
        _assert_one_line(str(refused.value))


def test_connections_over_the_cap_get_503_and_the_server_keeps_serving(
    emulator: EmulatorServer,
) -> None:
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):
            held.append(socket.create_connection(("127.0.0.1", emulator.port), timeout=5))
        deadline = time.monotonic() + 10
        while emulator.open_connections() < MAX_CONNECTIONS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert emulator.open_connections() == MAX_CONNECTIONS
        with pytest.raises(urllib.error.HTTPError) as busy:
            urllib.request.urlopen(emulator.base_url + "/api/v3/ping", timeout=5)
        assert busy.value.code == 503
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while emulator.open_connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    with urllib.request.urlopen(emulator.base_url + "/api/v3/ping", timeout=5) as answer:
        assert answer.status == 200
