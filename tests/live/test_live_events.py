"""The live event bus (issue 14): what observers (the terminal view, notifiers) receive, and
that a failing observer never stops or changes trading."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from papertrade.live import events as ev
from papertrade.live.session import run_live
from papertrade.runner import build_strategy
from tests.conftest import flagship, query


def _replay(tmp: Path, *subscribers: ev.Subscriber) -> Path:
    loaded = flagship(tmp, "broker.mode=emulator", "broker.emulator.start=2020-11-11",
                      "live.decision_delay_seconds=0")
    bus = ev.EventBus()
    for subscriber in subscribers:
        bus.subscribe(subscriber)
    result = run_live(loaded, build_strategy(loaded), until=dt.date(2020, 11, 16), bus=bus)
    assert result.stop_reason == "reached --until 2020-11-16"
    return result.folder


def test_observers_get_every_event_in_order_and_a_failing_one_changes_nothing(
    tmp_path: Path,
) -> None:
    seen: list[ev.LiveEvent] = []

    def broken(event: ev.LiveEvent) -> None:
        raise RuntimeError("observer bug")

    folder = _replay(tmp_path / "a", broken, seen.append)
    kinds = [type(e).__name__ for e in seen]
    assert kinds[0] == "Started" and kinds[-1] == "Stopped"
    decisions = query(folder, "SELECT date FROM decisions ORDER BY time")
    fills = query(folder, "SELECT client_order_id, qty, price FROM fills ORDER BY id")
    assert [e.label for e in seen if isinstance(e, ev.Decision)] == [r["date"] for r in decisions]
    trades = [e for e in seen if isinstance(e, ev.Trade)]
    assert [(t.client_order_id, t.qty, t.price) for t in trades] == [tuple(r) for r in fills]
    assert kinds.count("OrderPlaced") == len({r["client_order_id"] for r in fills}) >= 1
    assert all(isinstance(e.text, str) and e.text for e in seen)
    stopped = seen[-1]
    assert isinstance(stopped, ev.Stopped) and stopped.decisions == len(decisions) == 6

    clean = _replay(tmp_path / "b")
    same = "SELECT date, targets FROM decisions ORDER BY time"
    assert [tuple(r) for r in query(clean, same)] == [tuple(r) for r in query(folder, same)]
    assert [tuple(r) for r in query(clean, "SELECT symbol, side, qty, price FROM fills")] == [
        tuple(r) for r in query(folder, "SELECT symbol, side, qty, price FROM fills")]
