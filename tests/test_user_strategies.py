"""User strategies: by file (relative to the config's folder), by ``module:Class``, from
``--strategy-path`` folders; every mistake a one-line ConfigError (exit 2). The SMA crossover
of ``docs/examples`` backtests through the CLI and decides what pandas computes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.cli_harness import assert_one_line_error, run_cli
from tests.conftest import ROOT, query

EXAMPLE = ROOT / "docs" / "examples"
BTC = ROOT / "papertrade" / "datasets" / "BTC-USDT.csv"


def config(folder: Path, strategy: str, runs: Path, start: str = "2021-01-01",
           end: str = "2021-06-30") -> Path:
    """A run config in ``folder`` whose ``strategy:`` block is the YAML ``strategy``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.yaml"
    path.write_text(f"name: user-strategy\nstrategy: {strategy}\n"
                    f"data: {{start: {start}, end: {end}}}\nruns_dir: {runs}\n")
    return path


def test_the_sma_example_backtests_and_decides_what_pandas_computes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = [line for line in (EXAMPLE / "sma_cross.py").read_text().splitlines()
            if line.strip() and not line.startswith(("from ", "import "))
            and not line.strip().startswith('"""')]
    assert len(code) <= 15, code
    done = run_cli(["backtest", str(EXAMPLE / "sma_cross.yaml"), "--no-report",
                    "--set", f"runs_dir={tmp_path}"], capsys, limit=120)
    assert done.code == 0, done.err
    (folder,) = tmp_path.iterdir()
    decided = pd.Series({row["date"]: json.loads(row["targets"])["BTC/USDT"]
                         for row in query(folder, "SELECT date, targets FROM decisions")})
    closes = pd.read_csv(BTC, index_col="date")["close"].loc["2018-01-01":"2023-12-31"]
    expected = (closes.rolling(20).mean() > closes.rolling(50).mean()).astype(float)
    assert list(decided.index) == list(expected.index)  # every bar of the traded clock
    assert decided.to_numpy().tolist() == expected.to_numpy().tolist()
    assert 0 < decided.mean() < 1
    assert len(query(folder, "SELECT * FROM fills")) > 10


def test_a_strategy_file_outside_the_repository_is_found_from_the_configs_folder(
        tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    library = tmp_path_factory.mktemp("library")
    shutil.copy(EXAMPLE / "sma_cross.py", library / "crossing.py")
    runs = tmp_path_factory.mktemp("runs")
    here = tmp_path_factory.mktemp("configs") / "nested"
    relative = Path("..", "..", library.name, "crossing.py")
    cfg = config(here, f"{{path: {relative}, name: sma_cross, params: {{fast: 5, slow: 30}}}}",
                 runs)
    done = run_cli(["backtest", str(cfg), "--no-report"], capsys, limit=120)
    assert done.code == 0, done.err
    assert "run folder" in done.out and len(list(runs.iterdir())) == 1
    by_class = run_cli(["validate", str(cfg), "--set", "strategy.name=SmaCross"], capsys)
    assert by_class.code == 0 and "ok (sma_cross on BTC/USDT)" in by_class.out


def test_a_missing_strategy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, "{path: nowhere/sma.py, name: sma_cross}", tmp_path / "runs")
    done = run_cli(["validate", str(cfg)], capsys)
    assert_one_line_error(done, 2, str(cfg), "strategy.path", "no strategy file",
                          "config's folder")


def test_a_syntax_error_in_the_strategy_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.py").write_text("from papertrade.strategies import Strategy\n\n"
                                        "class Broken(Strategy:\n    pass\n")
    cfg = config(tmp_path, "{path: broken.py, name: broken}", tmp_path / "runs")
    done = run_cli(["backtest", str(cfg)], capsys)
    assert_one_line_error(done, 2, "strategy.path", "syntax error in", "broken.py line 3")
    assert not (tmp_path / "runs").exists()


def test_a_class_that_is_not_a_strategy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "helpers_mod.py").write_text("class Helper:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = config(tmp_path, "{name: 'helpers_mod:Helper'}", tmp_path / "runs")
    assert_one_line_error(run_cli(["validate", str(cfg)], capsys), 2, "strategy.name",
                          "'helpers_mod:Helper' is not a Strategy")
    by_path = config(tmp_path, "{path: helpers_mod.py, name: Helper}", tmp_path / "runs")
    assert_one_line_error(run_cli(["validate", str(by_path)], capsys), 2,
                          "Helper in", "is not a Strategy")
    missing = config(tmp_path, "{name: 'no_such_module_x:Thing'}", tmp_path / "runs")
    assert_one_line_error(run_cli(["validate", str(missing)], capsys), 2,
                          "no module 'no_such_module_x'")


def test_module_colon_class_names_a_strategy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(EXAMPLE / "sma_cross.py", tmp_path / "my_sma_mod.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = config(tmp_path, "{name: 'my_sma_mod:SmaCross'}", tmp_path / "runs")
    done = run_cli(["validate", str(cfg)], capsys)
    assert done.code == 0 and "ok (sma_cross on BTC/USDT)" in done.out, done.err


def test_two_strategies_with_one_name(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(EXAMPLE / "sma_cross.py", folder / "a.py")
    shutil.copy(EXAMPLE / "sma_cross.py", folder / "b.py")
    cfg = config(tmp_path, "{name: sma_cross}", tmp_path / "runs")
    done = run_cli(["validate", str(cfg), "--strategy-path", str(folder)], capsys)
    assert_one_line_error(done, 2, "two strategies named 'sma_cross'", "a.py", "b.py",
                          "rename one")
    (folder / "b.py").unlink()
    (folder / "a.py").write_text((EXAMPLE / "sma_cross.py").read_text().replace(
        '"sma_cross"', '"momentum_rotation"'))
    shadow = run_cli(["strategies", "list", "--strategy-path", str(folder)], capsys)
    assert_one_line_error(shadow, 2, "two strategies named 'momentum_rotation'", "shipped")


def test_strategy_path_finds_user_strategies_with_did_you_mean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(EXAMPLE / "sma_cross.py", folder / "crossing.py")
    (folder / "_private.py").write_text("raise RuntimeError('not scanned')\n")
    cfg = config(tmp_path, "{name: sma_cros}", tmp_path / "runs")
    typo = run_cli(["validate", str(cfg), "--strategy-path", str(folder)], capsys)
    assert_one_line_error(typo, 2, "unknown strategy 'sma_cros'", "did you mean 'sma_cross'?")
    ok = run_cli(["backtest", str(cfg), "--set", "strategy.name=sma_cross", "--no-report",
                  "--strategy-path", str(folder)], capsys, limit=120)
    assert ok.code == 0, ok.err
    nowhere = run_cli(["validate", str(cfg), "--strategy-path", str(tmp_path / "none")], capsys)
    assert_one_line_error(nowhere, 2, "--strategy-path", "no folder")


def test_an_edited_strategy_file_gets_another_run_hash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(EXAMPLE / "sma_cross.py", tmp_path / "crossing.py")
    runs = tmp_path / "runs"
    cfg = config(tmp_path, "{path: crossing.py, name: sma_cross}", runs, end="2021-02-28")

    def backtest() -> tuple[str, dict[str, str]]:
        before = set(runs.iterdir()) if runs.exists() else set()
        assert run_cli(["backtest", str(cfg), "--no-report"], capsys, limit=120).code == 0
        (folder,) = set(runs.iterdir()) - before
        code = json.loads((folder / "manifest.json").read_text())["strategy_code"]
        return folder.name.rsplit("-", 1)[-1], code

    first, code = backtest()
    assert code["origin"].endswith("crossing.py") and len(code["sha256"]) == 64
    assert backtest()[0] == first  # same code, same config: same hash
    path = tmp_path / "crossing.py"
    path.write_text(path.read_text() + "\n# tuned\n")
    edited, edited_code = backtest()
    assert edited != first and edited_code["sha256"] != code["sha256"]
