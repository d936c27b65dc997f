"""The live terminal view (issue 14, item 1), driven as a user sees it.

``papertrade live`` replays a few days against the in-process emulator (real ccxt client over
loopback) in a real pseudo-terminal (pexpect): the countdown to the next decision, every
decision and every trade appear on screen, with the replay's progress bar. Piped, the same run
prints one timestamped line per event and no panel.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pexpect
from rich.console import Console

from papertrade.live import events as ev
from papertrade.live.view import LiveView
from tests.conftest import FLAGSHIP, ROOT, query

REPLAY = ["live", str(FLAGSHIP), "--until", "2020-11-16",
          "--set", "broker.mode=emulator", "--set", "broker.emulator.start=2020-11-11",
          "--set", "live.decision_delay_seconds=0"]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _folder(runs: Path) -> Path:
    (folder,) = [p for p in runs.iterdir() if p.is_dir()]
    return folder


def test_the_terminal_view_shows_countdown_decisions_and_trades(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {**os.environ, "COLUMNS": "160", "LINES": "50", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(sys.executable, ["-m", "papertrade.cli", *REPLAY,
                                           "--set", f"runs_dir={runs}"],
                          cwd=str(ROOT), env=env, encoding="utf-8", timeout=120,
                          dimensions=(50, 160))
    child.expect(pexpect.EOF)
    child.close()
    screen = ANSI.sub("", child.before or "")
    assert child.exitstatus == 0, screen[-3000:]
    decisions = query(_folder(runs), "SELECT date AS label FROM decisions ORDER BY time")
    fills = query(_folder(runs), "SELECT symbol, side, qty FROM fills ORDER BY id")
    assert [r["label"] for r in decisions] == [
        "2020-11-11", "2020-11-12", "2020-11-13", "2020-11-14", "2020-11-15", "2020-11-16"]
    assert fills, "the replay window holds the 2020-11-13 breakout: a BTC buy"
    countdowns = re.findall(r"next decision\s+(2020-11-1\d) 00:00:00 UTC\s+in 1d 00:00:00", screen)
    assert {"2020-11-12", "2020-11-16"} <= set(countdowns), screen[-3000:]
    for row in decisions:
        assert f"decision {row['label']}:" in screen
    for fill in fills:
        assert re.search(rf"trade {fill['side']} {fill['qty']:.8g} {re.escape(fill['symbol'])} @",
                         screen), screen[-3000:]
    assert "replay" in screen and "decisions/s" in screen  # the progress bar with its rate
    assert "stopped: reached --until 2020-11-16" in screen
    assert not any(STAMP.match(line) for line in screen.splitlines())


def test_piped_output_is_one_timestamped_line_per_event(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = subprocess.run([sys.executable, "-m", "papertrade.cli", *REPLAY,
                             "--set", f"runs_dir={runs}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    events = [line for line in result.stdout.splitlines() if STAMP.match(line)]
    folder = _folder(runs)
    decisions = query(folder, "SELECT date AS label FROM decisions ORDER BY time")
    fills = query(folder, "SELECT id FROM fills")
    assert fills
    kinds = [STAMP.sub("", line).split(" ", 1)[0] for line in events]
    assert kinds[0] == "started" and kinds[-1] == "stopped:"
    assert kinds.count("decision") == len(decisions) == 6
    assert kinds.count("trade") == len(fills)
    assert len(events) == 2 + len(decisions) + len(fills), events
    assert "\x1b[" not in result.stdout  # no panel, no colour codes in a pipe
    assert str(folder) in events[0]


def test_a_real_clock_countdown_ticks_down_and_long_waits_are_announced() -> None:
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    view = LiveView(console, interactive=False)
    now = pd.Timestamp.now(tz="UTC").floor("s")
    view(ev.Waiting(now, now, now + pd.Timedelta(seconds=90), 90.0, "decision delay"))
    first = view._next()
    time.sleep(2.1)
    later = view._next()
    assert first.endswith("in 00:01:30"), first
    assert later.endswith(("in 00:01:28", "in 00:01:27")), later
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    end = f"{now + pd.Timedelta(seconds=90):%Y-%m-%d %H:%M:%S} UTC"
    assert STAMP.match(printed) and f"waiting 90 s until {end}" in printed
    view(ev.Waiting(now, now, now + pd.Timedelta(seconds=3), 3.0))
    assert console.file.getvalue() == printed  # type: ignore[attr-defined]  # short: silent
