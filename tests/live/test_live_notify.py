"""Notifications (``notify:``) from a real emulator replay to a real HTTP receiver on loopback,
through apprise's generic JSON webhook (``json://``).

The replay is the kill-switch window of ``test_live_rails.py`` (2020-11-12 .. 2020-12-10: a
breakout buys BTC on 2020-11-14, the 5 % drawdown of 2020-11-27 flattens and stops the run),
with ``risk.max_order_notional`` cutting the big buy so that rail messages go out too. The URL's
path carries a secret from the environment, under a variable name that does not look secret:
it must not appear in any message, file or output.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from papertrade.config import load_config
from papertrade.errors import ConfigError
from papertrade.live.session import LiveResult, run_live
from papertrade.runner import build_strategy
from tests.conftest import FLAGSHIP

SECRET = "hook-s3cr3t-7f1e9c2b5a"
LIVE = ["broker.mode=emulator", "broker.emulator.start=2020-11-12",
        "live.decision_delay_seconds=0", "risk.kill_drawdown=0.05",
        "risk.max_order_notional=6000"]


class Receiver:
    """A JSON webhook on 127.0.0.1: records each POST's path and JSON body; ``delay`` seconds
    before answering (a slow target)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[dict[str, Any]] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.paths.append(self.path)
                received.messages.append(json.loads(body))
                time.sleep(delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kinds(self) -> list[str]:
        return [m["title"].rsplit(": ", 1)[1] for m in self.messages]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    up = Receiver()
    yield up
    up.close()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_with_notify(tmp: Path, port: int | None, timeout: float = 5.0) -> Path:
    """The flagship config plus a notify section whose URL takes a secret from the
    environment (``${HOOK_PATH}``)."""
    text = FLAGSHIP.read_text()
    if port is not None:
        text += (f"\nnotify:\n  urls: [\"json://127.0.0.1:{port}/hook/${{HOOK_PATH}}\"]\n"
                 f"  timeout_seconds: {timeout}\n")
    path = tmp / ("notify.yaml" if port is not None else "plain.yaml")
    path.write_text(text)
    return path


def replay(config: Path, runs: Path) -> LiveResult:
    loaded = load_config(config, [f"runs_dir={runs}", *LIVE])
    return run_live(loaded, build_strategy(loaded), until=dt.date(2020, 12, 10))


def journal(folder: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{folder / 'journal.sqlite'}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def trading(folder: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What the run decided and what it got: decisions and fills, ids aside."""
    return (journal(folder, "SELECT time, targets, sent FROM decisions ORDER BY time"),
            journal(folder, "SELECT time, symbol, side, qty, price, fee FROM fills ORDER BY id"))


def everything_written(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("plain")
    return replay(config_with_notify(tmp, None), tmp / "runs").folder


def test_one_message_per_trade_rail_cut_and_the_kill_switch(
    tmp_path: Path, receiver: Receiver, plain: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOOK_PATH", SECRET)
    result = replay(config_with_notify(tmp_path, receiver.port), tmp_path / "runs")
    assert "kill switch" in result.stop_reason
    fills = journal(result.folder, "SELECT time, side, qty, symbol FROM fills ORDER BY id")
    cuts = journal(result.folder, "SELECT message FROM events WHERE kind = 'rail'")
    assert len(fills) >= 3 and cuts
    kinds = receiver.kinds()
    assert kinds.count("trade") == len(fills)
    assert kinds.count("rail") == len(cuts)
    assert kinds.count("kill switch") == 1
    assert kinds[-1] == "stop"
    trades = [m for m in receiver.messages if m["title"].endswith(": trade")]
    for (time_, side, qty, symbol), message in zip(fills, trades, strict=True):
        assert message["message"].startswith(f"trade {side} {qty:.8g} {symbol} @ ")
        assert message["message"].endswith(f"[{time_[:10]} {time_[11:16]} UTC]")
    kill = next(m for m in receiver.messages if m["title"].endswith(": kill switch"))
    assert "drawdown" in kill["message"] and kill["type"] == "failure"
    assert all(m["title"].startswith("papertrade rut-breakout-rotation (emulator): ")
               for m in receiver.messages)
    # the notifications changed nothing in what was traded
    assert trading(result.folder) == trading(plain)
    # the secret went where it belongs (the URL's path) and nowhere else
    assert all(p == f"/hook/{SECRET}" for p in receiver.paths)
    assert SECRET not in json.dumps(receiver.messages)
    assert SECRET.encode() not in everything_written(result.folder)
    out, err = capfd.readouterr()
    assert SECRET not in out + err
    assert "notify:" in (result.folder / "config.yaml").read_text()


def test_a_receiver_that_is_down_changes_nothing(tmp_path: Path, plain: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_PATH", SECRET)
    result = replay(config_with_notify(tmp_path, closed_port()), tmp_path / "runs")
    assert "kill switch" in result.stop_reason
    assert trading(result.folder) == trading(plain)
    log = (result.folder / "run.log").read_text()
    assert "notification to notify.urls[0] (json) failed" in log
    assert SECRET.encode() not in everything_written(result.folder)


def test_a_slow_receiver_does_not_slow_trading(tmp_path: Path, plain: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Each message takes the receiver 3 s to answer, a 0.5 s timeout gives up on it; the
    loop never waits for it, and the end waits at most the timeout for what is queued."""
    monkeypatch.setenv("HOOK_PATH", SECRET)
    slow = Receiver(delay=3.0)
    try:
        began = time.monotonic()
        result = replay(config_with_notify(tmp_path, slow.port, timeout=0.5), tmp_path / "runs")
        took = time.monotonic() - began
    finally:
        slow.close()
    assert trading(result.folder) == trading(plain)
    # 3 s per message for the ~15 messages would be 45 s if the loop waited for them
    assert took < 30, took


def test_a_notification_url_apprise_does_not_know_stops_before_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOK_PATH", SECRET)
    config = tmp_path / "bad.yaml"
    config.write_text(FLAGSHIP.read_text() + "\nnotify:\n  urls: [\"nosuch://${HOOK_PATH}\"]\n")
    loaded = load_config(config, [f"runs_dir={tmp_path / 'runs'}", *LIVE])
    with pytest.raises(ConfigError) as caught:
        run_live(loaded, build_strategy(loaded), until=dt.date(2020, 11, 14))
    assert caught.value.exit_code == 2
    assert "notify.urls[0]" in str(caught.value) and "nosuch" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert not (tmp_path / "runs").exists()


def test_rejections_and_crashes_are_sent_masked(receiver: Receiver,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The notifier alone, fed the events the executor and the session publish: a rejection
    and a crash whose error quotes the URL's secret reach the receiver masked."""
    import pandas as pd

    from papertrade.config_models import NotifyConfig
    from papertrade.live import events as ev
    from papertrade.live.notify import Notifier
    from papertrade.util.secrets import secret_values

    monkeypatch.setenv("HOOK_PATH", SECRET)
    url = f"json://127.0.0.1:{receiver.port}/hook/{SECRET}"
    notifier = Notifier(NotifyConfig(urls=[url]), run_name="r", mode="testnet",
                        secrets=secret_values({"notify": {"urls": [url]}}))
    now = pd.Timestamp("2026-01-02T00:00:00Z")
    notifier(ev.Rejection(now, "pt-1", "BTC/USDT", "buy", 0.5, "insufficient balance"))
    notifier(ev.Retry(now, "timeout"))  # not one of the default kinds
    notifier(ev.Crashed(now, f"BrokerUnavailable: POST {url} failed", 4))
    notifier.close()
    assert receiver.kinds() == ["rejection", "crash"]
    assert receiver.messages[0]["message"] == (
        "rejected buy 0.5 BTC/USDT: insufficient balance [2026-01-02 00:00 UTC]")
    assert receiver.messages[0]["type"] == "warning"
    assert receiver.messages[1]["message"] == (
        "crashed (exit 4): BrokerUnavailable: POST *** failed [2026-01-02 00:00 UTC]")
    assert SECRET not in json.dumps(receiver.messages)


def test_notification_urls_are_secret_values_and_redacted_in_config_yaml() -> None:
    from papertrade.util.secrets import redact_config, secret_values

    url = f"tgram://123456789:{SECRET}/987654321"
    raw = {"name": "x", "notify": {"urls": [url, "json://127.0.0.1:8080/hook"]}}
    found = secret_values(raw, env={})
    assert {url, f"123456789:{SECRET}"} <= found
    assert "127.0.0.1:8080" not in found and "987654321" not in found  # addresses, ids
    assert redact_config(raw, found)["notify"]["urls"] == ["***", "***"]
    assert "name" in redact_config(raw, found)
