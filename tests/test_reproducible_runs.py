"""A run's config.yaml is its effective configuration: backtesting it reproduces the run.

Real backtests of the flagship through the installed console script (short windows).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import FLAGSHIP, ROOT

PAPERTRADE = str(Path(sys.executable).with_name("papertrade"))
WINDOW = ["--start", "2020-01-01", "--end", "2022-12-31"]
MA_100 = ["--set", "strategy.params.exit.ma_days=100"]


def backtest(config: Path, *args: str, cwd: Path = ROOT,
             env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    done = subprocess.run([PAPERTRADE, "backtest", str(config), "--no-report", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300, check=False,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return done, Path(cwd, done.stdout.split("run folder:")[1].split()[0])


def digest(folder: Path) -> str:
    return folder.name.rsplit("-", 1)[-1]


def test_config_yaml_reproduces_the_run_byte_for_byte(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _, default = backtest(FLAGSHIP, "--set", f"runs_dir={runs}")
    _, variant = backtest(FLAGSHIP, *WINDOW, *MA_100, "--set", f"runs_dir={runs}")

    written = yaml.safe_load((variant / "config.yaml").read_text())
    assert str(written["data"]["start"]) == "2020-01-01"
    assert str(written["data"]["end"]) == "2022-12-31"
    assert written["strategy"]["params"]["exit"]["ma_days"] == 100
    # the defaults the file left out are written too, and every path is absolute
    assert written["strategy"]["params"]["rotation"]["top_k"] == 3
    assert written["broker"]["fee_bps"] == 10.0 and written["risk"]["kill_file"] == "STOP"
    assert Path(written["runs_dir"]) == runs.resolve()
    assert digest(variant) != digest(default)
    default_config = yaml.safe_load((default / "config.yaml").read_text())
    assert default_config["strategy"]["params"]["exit"]["ma_days"] == 50
    assert str(default_config["data"]["end"]) == default.joinpath("metrics.json").read_text() \
        .split('"end": "')[1][:10]  # end: null resolved to the last bar it ran to

    # from another working directory: runs_dir and the data still resolve from the file
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _, again = backtest(variant / "config.yaml", cwd=elsewhere)
    assert again.parent == runs.resolve() and again != variant
    assert digest(again) == digest(variant)  # same settings, same data: same hash
    assert (again / "metrics.json").read_bytes() == (variant / "metrics.json").read_bytes()
    assert (again / "config.yaml").read_text() == (variant / "config.yaml").read_text()
    assert not (elsewhere / "runs").exists()


def test_a_masked_secret_is_not_taken_for_its_value(tmp_path: Path) -> None:
    """A secret read from the environment is written as ***; loading that file fails in one
    line naming the key, instead of running with *** as the value."""
    config = tmp_path / "secret.yaml"
    raw = yaml.safe_load(FLAGSHIP.read_text())
    raw["broker"]["exchange"] = "${PT_TEST_EXCHANGE_TOKEN}"  # not used by a backtest
    config.write_text(yaml.safe_dump(raw))
    _, folder = backtest(config, *WINDOW, "--set", f"runs_dir={tmp_path / 'runs'}",
                         env={"PT_TEST_EXCHANGE_TOKEN": "s3cr3t-value-123"})
    text = (folder / "config.yaml").read_text()
    assert "s3cr3t-value-123" not in text and "exchange: '***'" in text
    again = subprocess.run([PAPERTRADE, "backtest", str(folder / "config.yaml"), "--no-report"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120,
                           check=False)
    assert again.returncode == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "broker.exchange" in lines[0] and "***" in lines[0], again.stderr
    assert "masked" in lines[0]


def test_a_user_strategy_run_reproduces_without_strategy_path(tmp_path: Path) -> None:
    """A strategy found through --strategy-path is written as strategy.path (absolute)."""
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(ROOT / "docs" / "examples" / "sma_cross.py", folder / "crossing.py")
    config = tmp_path / "run.yaml"
    config.write_text("name: user-strategy\nstrategy: {name: sma_cross}\n"
                      f"data: {{start: 2021-01-01, end: 2021-06-30}}\nruns_dir: {tmp_path}/runs\n")
    _, first = backtest(config, "--strategy-path", str(folder), cwd=tmp_path)
    written = yaml.safe_load((first / "config.yaml").read_text())
    assert written["strategy"]["path"] == str((folder / "crossing.py").resolve())
    _, again = backtest(first / "config.yaml", cwd=tmp_path)
    assert (again / "metrics.json").read_bytes() == (first / "metrics.json").read_bytes()
