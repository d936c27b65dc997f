"""``papertrade sweep``: bad input fails before any work; grids expand as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_harness import assert_one_line_error, run_cli

from papertrade.errors import ConfigError
from papertrade.research.grid import expand_range, parse_axis, split_values
from papertrade.research.walkforward import folds
from tests.conftest import FLAGSHIP

BASE = ["sweep", str(FLAGSHIP), "--start", "2021-01-01", "--end", "2021-02-28"]


def test_ranges_are_inclusive_and_float_safe() -> None:
    assert expand_range("20..100:20", "k") == ["20", "40", "60", "80", "100"]
    assert expand_range("0.1..0.3:0.1", "k") == ["0.1", "0.2", "0.3"]
    assert expand_range("1..2:0.25", "k") == ["1.0", "1.25", "1.5", "1.75", "2.0"]
    assert expand_range("daily", "k") is None
    assert split_values("[ETH/USDT, SOL/USDT],[BNB/USDT]") == ["[ETH/USDT, SOL/USDT]",
                                                               "[BNB/USDT]"]
    assert parse_axis("strategy.params.rebalance.every=daily,weekly") == (
        "strategy.params.rebalance.every", ["daily", "weekly"])


@pytest.mark.parametrize(("grid", "fragments"), [
    (["strategy.params.exit.ma_dayz=20,50"], ["ma_dayz", "did you mean 'ma_days'"]),
    (["strategy.params.exit.ma_days=20,abc"], ["strategy.params.exit.ma_days"]),
    (["broker.fee_bps=5,-3"], ["broker.fee_bps"]),
    (["broker.fee_bps=10..1:1"], ["ends before it starts"]),
    (["broker.fee_bps=1..10:0"], ["step must be above 0"]),
    (["broker.fee_bps=1..x:1"], ["is not a number"]),
    (["broker.fee_bps"], ["not KEY=VALUES"]),
    (["strategy.params.rebalance.every=daily,hourly"], ["rebalance.every"]),
])
def test_bad_grids_fail_in_one_line_before_any_folder(
        grid: list[str], fragments: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*BASE, "--set", f"runs_dir={tmp_path}"]
    for item in grid:
        argv += ["--grid", item]
    result = run_cli(argv, capsys)
    assert_one_line_error(result, 2, *fragments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("extra", "fragments"), [
    (["--objective", "sharp"], ["--objective", "did you mean 'sharpe'"]),
    (["--walk-forward", "3x:6m"], ["--walk-forward", "not a span"]),
    (["--walk-forward", "9y:6m"], ["leaves no test window"]),
    (["--anchored"], ["needs --walk-forward"]),
    (["--engine", "backtrade"], ["did you mean 'backtrader'"]),
    (["--scheduler", "tcp://127.0.0.1:9"], ["--scheduler", "cannot reach"]),
])
def test_bad_options_fail_before_any_folder(extra: list[str], fragments: list[str],
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*BASE, "--set", f"runs_dir={tmp_path}", "--grid", "broker.fee_bps=5,10", *extra]
    result = run_cli(argv, capsys)
    assert_one_line_error(result, 2, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_folds_roll_and_anchor() -> None:
    import datetime as dt

    rolling = folds(dt.date(2020, 1, 1), dt.date(2021, 12, 31), "1y:6m")
    assert [(f.train_start, f.test_start, f.test_end) for f in rolling] == [
        (dt.date(2020, 1, 1), dt.date(2021, 1, 1), dt.date(2021, 6, 30)),
        (dt.date(2020, 7, 1), dt.date(2021, 7, 1), dt.date(2021, 12, 31))]
    anchored = folds(dt.date(2020, 1, 1), dt.date(2021, 12, 31), "1y:6m", anchored=True)
    assert {f.train_start for f in anchored} == {dt.date(2020, 1, 1)}
    with pytest.raises(ConfigError):
        folds(dt.date(2020, 1, 1), dt.date(2020, 6, 1), "1y:6m")


def test_samples_are_seeded_subsets_of_the_grid() -> None:
    from papertrade.research.grid import Axis, points, size

    axes = [Axis("a", ("1", "2", "3"), (1, 2, 3)), Axis("b", ("x", "y"), ("x", "y"))]
    full = points(axes)
    assert size(axes) == len(full) == 6
    assert [p.values for p in full[:3]] == [(1, "x"), (1, "y"), (2, "x")]
    drawn = points(axes, samples=4, seed=7)
    assert drawn == points(axes, samples=4, seed=7)
    assert len(drawn) == 4 and {p.index for p in drawn} < {p.index for p in full}
    assert all(full[p.index] == p for p in drawn)
    assert drawn[0].sets(["a", "b"]) == [f"a={drawn[0].texts[0]}", f"b={drawn[0].texts[1]}"]


def test_resume_refuses_a_changed_config(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    config = tmp_path / "flagship.yaml"
    shutil.copy(FLAGSHIP, config)
    command = [str(Path(sys.executable).parent / "papertrade"), "sweep"]
    done = subprocess.run([*command, str(config), "--grid", "broker.fee_bps=5,10", "--start",
                           "2021-01-01", "--end", "2021-02-28", "--set",
                           f"runs_dir={tmp_path / 'runs'}", "--workers", "1", "--no-progress"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "runs").glob("*-sweep-*")
    config.write_text(config.read_text().replace("cash: 10000", "cash: 20000"))
    again = subprocess.run([*command, "--resume", str(folder), "--no-progress"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"error: {config}: changed since the sweep started (its resolved config differs from "
        "the one in the sweep folder); restore it, or start a new sweep instead of --resume"]
