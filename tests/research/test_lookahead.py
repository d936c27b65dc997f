"""``papertrade lookahead`` flags planted look-ahead biases at their first violating time, and
passes every registered strategy with ``--cuts all``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from papertrade.strategies import registry
from tests.cli_harness import assert_one_line_error, run_cli
from tests.conftest import CONFIGS, ROOT

PLANTED = ROOT / "tests" / "lookahead_planted.py"
DATASETS = ROOT / "papertrade" / "datasets"
START, END = "2021-01-01", "2021-06-30"


def bundled(name: str) -> pd.Series:
    """Closes of a bundled CSV by bar date."""
    frame = pd.read_csv(DATASETS / name, index_col="date", parse_dates=True)
    return frame["close"]


def crypto_window(name: str = "BTC-USDT.csv") -> pd.Series:
    """Closes of the window, indexed by decision time (a daily bar dated D is known at 00:00
    UTC of D+1)."""
    closes = bundled(name).loc[START:END]
    closes.index = (closes.index + pd.Timedelta(days=1)).tz_localize("UTC")
    return closes


def first_true(flags: pd.Series) -> pd.Timestamp:
    """The first decision time (cuts exclude the last one) where ``flags`` holds."""
    flags = flags.iloc[:-1]
    assert flags.any()
    return pd.Timestamp(flags.index[int(np.argmax(flags.to_numpy()))])


def expected_peek() -> pd.Timestamp:
    closes = crypto_window()
    return first_true(closes.shift(-1) > closes)


def expected_zscore() -> pd.Timestamp:
    closes = crypto_window()
    causal = closes > closes.expanding().mean()
    return first_true(causal != (closes > closes.mean()))


def expected_centred() -> pd.Timestamp:
    closes = crypto_window()
    return first_true(closes > closes.rolling(21, center=True).mean())


def expected_same_day() -> pd.Timestamp:
    rut = bundled("RUT.csv")
    rising = rut > rut.shift(1)
    times = crypto_window().index
    return first_true(pd.Series(rising.reindex(times.tz_convert(None).normalize())
                                .fillna(False).to_numpy(), index=times))


def expected_rank() -> pd.Timestamp:
    closes = pd.DataFrame({"BTC": crypto_window(), "ETH": crypto_window("ETH-USDT.csv")})
    back = np.minimum(np.arange(1, len(closes) + 1), 30)
    rows = np.arange(len(closes))
    momentum = closes.to_numpy()[rows] / closes.to_numpy()[rows - back + 1]
    best = momentum.argmax(axis=1)
    return first_true(pd.Series(best != best[-1], index=closes.index))


CASES = {
    "peek_next_close": expected_peek,
    "full_sample_zscore": expected_zscore,
    "centred_window": expected_centred,
    "same_day_index_close": expected_same_day,
    "last_row_rank": expected_rank,
}


def planted_config(folder: Path, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: planted\nstrategy: {{path: {PLANTED}, name: {name}}}\n"
                    f"data: {{start: {START}, end: {END}}}\nruns_dir: {folder / 'runs'}\n")
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_a_planted_bias_is_flagged_at_its_first_violating_time(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli(["lookahead", str(planted_config(tmp_path, name)), "--cuts", "all"],
                   capsys, limit=120)
    assert done.code == 7, done.err
    first = re.search(r"first truncated: (\d{4}-\d\d-\d\d \d\d:\d\d) UTC: (\S+)", done.out)
    assert first is not None, done.out
    assert first.group(1) == f"{CASES[name]():%Y-%m-%d %H:%M}", done.out
    assert first.group(2) in {"BTC/USDT", "ETH/USDT"}
    assert f"strategy '{name}' looks ahead" in done.err
    assert not (tmp_path / "runs").exists()  # a check writes no run folder


def test_random_cuts_around_events_also_flag_a_bias(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli(["lookahead", str(planted_config(tmp_path, "peek_next_close")),
                    "--cuts", "10", "--seed", "3"], capsys, limit=60)
    assert done.code == 7, done.err
    assert "10 truncated and 10 scrambled-future cuts" in done.out
    assert "LOOK-AHEAD" in done.out


SHIPPED = {
    "rut_breakout_rotation": (CONFIGS / "rut_breakout_rotation.yaml",
                              ["--start", "2020-06-01", "--end", "2021-12-31"]),
    "momentum_rotation": (CONFIGS / "momentum_rotation.yaml",
                          ["--start", "2021-06-01", "--end", "2022-03-31"]),
}


def test_every_registered_strategy_has_a_config_here() -> None:
    assert set(registry()) == set(SHIPPED)


@pytest.mark.parametrize("name", list(SHIPPED))
def test_every_registered_strategy_passes_with_every_cut(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path, window = SHIPPED[name]
    done = run_cli(["lookahead", str(path), "--cuts", "all", *window], capsys, limit=300)
    assert done.code == 0, done.out + done.err
    assert "clean: no decision changed" in done.out
    cuts = re.search(r"(\d+) truncated and (\d+) scrambled", done.out)
    assert cuts is not None and int(cuts.group(1)) > 250 and int(cuts.group(2)) >= 100


def test_the_sma_example_and_the_scaffold_pass(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = run_cli(["lookahead", str(ROOT / "docs" / "examples" / "sma_cross.yaml"),
                       "--cuts", "all", "--start", "2021-01-01", "--end", "2021-12-31"],
                      capsys, limit=120)
    assert example.code == 0, example.out + example.err
    assert run_cli(["strategies", "new", "my_trend", "--dir", str(tmp_path)], capsys).code == 0
    scaffold = run_cli(["lookahead", str(tmp_path / "my_trend.yaml"), "--cuts", "40"],
                       capsys, limit=120)
    assert scaffold.code == 0, scaffold.out + scaffold.err


def test_bad_cuts(capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli(["lookahead", str(CONFIGS / "momentum_rotation.yaml"), "--cuts", "some"],
                   capsys)
    assert_one_line_error(done, 2, "--cuts", "'some' is not a count", "all")


def test_an_incremental_path_that_disagrees_with_decide_is_reported_as_such(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli(["lookahead", str(planted_config(tmp_path, "short_warmup")), "--cuts", "all",
                    "--scrambled", "20"], capsys, limit=60)
    assert done.code == 7, done.err
    assert "first incremental:" in done.out and "decide_latest disagrees with decide" in done.out
    assert "first truncated:" not in done.out and "first scrambled:" not in done.out
