"""``papertrade strategies list`` and ``show``: names, origins, descriptions; every parameter
with its type, default and description, readable rather than JSON."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel

from papertrade.strategies import registry
from tests.cli_harness import assert_one_line_error, run_cli
from tests.conftest import ROOT

EXAMPLE = ROOT / "docs" / "examples" / "sma_cross.py"


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for name, info in model.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            keys.extend(leaf_keys(info.annotation, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_list_names_every_strategy_with_its_origin_and_description(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli(["strategies", "list"], capsys)
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0].split() == ["NAME", "FROM", "DESCRIPTION"]
    for name, cls in registry().items():
        (line,) = [row for row in lines if row.startswith(name + " ")]
        assert "shipped" in line and (cls.__doc__ or "").splitlines()[0] in line
    shutil.copy(EXAMPLE, tmp_path / "crossing.py")
    mine = run_cli(["strategies", "list", "--strategy-path", str(tmp_path)], capsys)
    (line,) = [row for row in mine.out.splitlines() if row.startswith("sma_cross ")]
    assert str(tmp_path / "crossing.py") in line and "SMA(fast) > SMA(slow)" in line


def test_show_prints_every_parameter_readably(capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli(["strategies", "show", "rut_breakout_rotation"], capsys)
    assert done.code == 0, done.err
    assert not done.out.lstrip().startswith("{")
    rows = {line.split()[0]: line for line in done.out.splitlines()
            if line.startswith("  ") and line.split()}
    cls = registry()["rut_breakout_rotation"]
    for key in leaf_keys(cls.Params):
        assert key in rows, key
    assert rows["exit.ma_days"].split()[1:5] == ["int", "|", "None", "50"]
    assert "moving average" in rows["exit.ma_days"] and ">= 2" in rows["exit.ma_days"]
    assert "'on_change'" in rows["rebalance.every"] and "'daily' | 'weekly'" in \
        rows["rebalance.every"]
    assert "tuple[str, ...]" in rows["alts"]
    momentum = run_cli(["strategies", "show", "momentum_rotation"], capsys)
    assert "(required)" in next(line for line in momentum.out.splitlines()
                            if line.split()[:1] == ["universe"])


def test_show_a_user_strategy_and_a_typo(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(EXAMPLE, tmp_path / "crossing.py")
    done = run_cli(["strategies", "show", "sma_cross", "--strategy-path", str(tmp_path)], capsys)
    assert done.code == 0, done.err
    assert done.out.startswith(f"sma_cross  ({tmp_path / 'crossing.py'})")
    assert [line.split()[:3] for line in done.out.splitlines()[-3:]] == [
        ["symbol", "str", "'BTC/USDT'"], ["fast", "int", "20"], ["slow", "int", "50"]]
    typo = run_cli(["strategies", "show", "momentum_rotaton"], capsys)
    assert_one_line_error(typo, 2, "unknown strategy 'momentum_rotaton'",
                          "did you mean 'momentum_rotation'?")


def test_new_writes_a_scaffold_that_validates_and_backtests_as_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    monkeypatch.chdir(tmp_path)  # the scaffold's config keeps the default runs_dir: ./runs
    made = run_cli(["strategies", "new", "my_trend", "--dir", "mine"], capsys)
    assert made.code == 0, made.err
    assert "papertrade backtest mine/my_trend.yaml" in made.out
    config = tmp_path / "mine" / "my_trend.yaml"
    assert run_cli(["validate", str(config)], capsys).out.strip().endswith(
        "ok (my_trend on BTC/USDT)")
    done = run_cli(["backtest", str(config), "--no-report", "--start", "2022-01-01"], capsys,
                   limit=120)
    assert done.code == 0, done.err
    (folder,) = (tmp_path / "runs").iterdir()
    assert (folder / "trades.csv").read_text().count("\n") > 2
    listed = run_cli(["strategies", "list", "--strategy-path", "mine"], capsys)
    assert "my_trend" in listed.out and "Hold the symbol while its close is above" in listed.out


@pytest.mark.parametrize(("name", "fragment"), [
    ("My-Trend", "'My-Trend' is not a strategy name"),
    ("momentum_rotation", "a strategy named 'momentum_rotation' already exists"),
])
def test_new_refuses_a_bad_or_taken_name(name: str, fragment: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    done = run_cli(["strategies", "new", name, "--dir", str(tmp_path)], capsys)
    assert_one_line_error(done, 2, "NAME", fragment)
    assert list(tmp_path.iterdir()) == []


def test_new_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "my_trend.yaml").write_text("mine\n")
    done = run_cli(["strategies", "new", "my_trend", "--dir", str(tmp_path)], capsys)
    assert_one_line_error(done, 2, "my_trend.yaml already exists", "nothing was written")
    assert (tmp_path / "my_trend.yaml").read_text() == "mine\n"
    assert not (tmp_path / "my_trend.py").exists()
