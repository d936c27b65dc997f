"""A bug inside a strategy is a StrategyError: one line naming the strategy, the decision
time and the exception; exit code 5 (``-v`` shows the traceback); in a backtest and live."""

from __future__ import annotations

from pathlib import Path

import pytest

from papertrade.data.history import MarketHistory
from papertrade.strategies import RutBreakoutRotation
from papertrade.strategies.base import Decisions
from tests.cli_harness import run_cli
from tests.conftest import FLAGSHIP


class Buggy(RutBreakoutRotation):
    """The flagship with a bug that shows once the history reaches 2020-11-20."""

    name = "buggy_breakout"

    def decide(self, history: MarketHistory) -> Decisions:
        if history.now >= history.now.replace(year=2020, month=11, day=20, hour=0):
            raise ZeroDivisionError("float division by zero")
        return super().decide(history)

    def decide_latest(self, history: MarketHistory) -> Decisions:
        return self.decide(history)


@pytest.fixture
def buggy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry as a user's package would extend it (issue: user strategies)."""
    import papertrade.strategies as registry

    shipped = registry.registry()
    monkeypatch.setattr(registry, "registry", lambda: {**shipped, Buggy.name: Buggy})


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    done = run_cli(list(args), capsys)
    return done.code, done.err


@pytest.mark.usefixtures("buggy")
def test_a_strategy_bug_in_a_backtest_is_one_line_and_exit_5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run(capsys, "backtest", str(FLAGSHIP), "--set", f"runs_dir={tmp_path}",
                    "--set", "strategy.name=buggy_breakout", "--set", "data.start=2020-10-01",
                    "--set", "data.end=2020-12-31", "--no-report")
    assert code == 5
    (line,) = err.strip().splitlines()
    assert "strategy 'buggy_breakout' failed" in line
    assert "2021-01-01 00:00 UTC" in line  # the last decision time of the window
    assert "ZeroDivisionError: float division by zero" in line
    assert not list(tmp_path.iterdir())  # nothing half-written: it failed before the folder


@pytest.mark.usefixtures("buggy")
def test_a_strategy_bug_in_a_live_run_names_the_decision_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    def live(runs: Path, *flags: str) -> tuple[int, str]:
        return run(capsys, *flags, "live", str(FLAGSHIP), "--set", f"runs_dir={runs}",
                   "--set", "strategy.name=buggy_breakout", "--set", "broker.mode=emulator",
                   "--set", "broker.emulator.start=2020-11-12",
                   "--set", "live.decision_delay_seconds=0", "--until", "2020-12-01")

    code, err = live(tmp_path)
    assert code == 5
    (line,) = err.strip().splitlines()
    assert "strategy 'buggy_breakout' failed computing the decision at 2020-11-20 00:00 UTC" \
        in line
    assert "ZeroDivisionError" in line
    verbose_code, verbose = live(tmp_path / "v", "-v")
    assert verbose_code == 5 and "Traceback" in verbose
