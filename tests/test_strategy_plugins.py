"""User strategies beyond the repository: a package installed with pip registers one through
the ``papertrade.strategies`` entry-point group; a strategy file referenced by path runs live
against the emulator. Every mistake is one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_harness import assert_one_line_error, run_cli
from tests.conftest import ROOT, query

EXAMPLE = ROOT / "docs" / "examples" / "sma_cross.py"
PAPERTRADE = [sys.executable, "-c", "from papertrade.cli import main; main()"]


def package(root: Path, dist: str, entry_points: dict[str, str], module: str) -> Path:
    """A pip-installable project ``dist`` whose module ``plugin_<dist>.strategies`` is
    ``module`` and which registers ``entry_points`` (name -> object reference)."""
    source = root / dist
    pkg = source / f"plugin_{dist}"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "strategies.py").write_text(module)
    points = "\n".join(f'{name} = "{ref}"' for name, ref in entry_points.items())
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{dist}"\nversion = "0.1"\n'
        f'[project.entry-points."papertrade.strategies"]\n{points}\n'
        f'[tool.setuptools]\npackages = ["plugin_{dist}"]\n')
    return source


def pip_install(source: Path, target: Path) -> Path:
    """``pip install`` the project into its own folder (not the test venv); pip builds it in
    an isolated environment, as it would for a user."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--target", str(target), str(source)], check=True, timeout=300)
    return target


def papertrade(site: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([*PAPERTRADE, *argv], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def renamed(name: str) -> str:
    return EXAMPLE.read_text().replace('name = "sma_cross"', f'name = "{name}"')


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    source = package(root, "crossings", {"demo_cross": "plugin_crossings.strategies:SmaCross"},
                     renamed("demo_cross"))
    return pip_install(source, root / "site")


def test_an_installed_package_registers_a_strategy_that_lists_and_backtests(
        installed: Path, tmp_path: Path) -> None:
    listed = papertrade(installed, "strategies", "list")
    assert listed.returncode == 0, listed.stderr
    (line,) = [row for row in listed.stdout.splitlines() if row.startswith("demo_cross")]
    assert "package crossings" in line and "SMA(fast) > SMA(slow)" in line
    config = tmp_path / "run.yaml"
    config.write_text("name: plugin\nstrategy: {name: demo_cross, params: {fast: 5, slow: 20}}\n"
                      f"data: {{start: 2021-01-01, end: 2021-06-30}}\nruns_dir: {tmp_path}/runs\n")
    done = papertrade(installed, "backtest", str(config), "--no-report")
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert len(query(folder, "SELECT * FROM fills")) > 2
    typo = papertrade(installed, "validate", str(config), "--set", "strategy.name=demo_cros")
    assert typo.returncode == 2 and "did you mean 'demo_cross'" in typo.stderr
    assert "Traceback" not in typo.stderr


def test_a_broken_or_clashing_entry_point_is_one_line(tmp_path: Path) -> None:
    broken = pip_install(package(tmp_path, "broken", {"broken": "plugin_broken.strategies:X"},
                                 "raise RuntimeError('boom')\n"), tmp_path / "site-broken")
    done = papertrade(broken, "strategies", "list")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "entry point 'broken = plugin_broken.strategies:X' of broken failed to import" in line
    assert "RuntimeError: boom" in line and "fix or uninstall broken" in line

    clash = pip_install(package(tmp_path, "clash",
                                {"rut_breakout_rotation": "plugin_clash.strategies:SmaCross"},
                                renamed("rut_breakout_rotation")), tmp_path / "site-clash")
    done = papertrade(clash, "strategies", "list")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "two strategies named 'rut_breakout_rotation'" in done.stderr
    assert "rename one of them" in done.stderr


def test_a_strategy_file_outside_the_repository_runs_live_against_the_emulator(
        tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    library = tmp_path_factory.mktemp("elsewhere")
    (library / "crossing.py").write_text(EXAMPLE.read_text())
    here = tmp_path_factory.mktemp("configs")
    runs = here / "runs"
    config = here / "live.yaml"
    config.write_text(
        f"name: user-live\nstrategy: {{path: {library / 'crossing.py'}, name: sma_cross,"
        " params: {fast: 3, slow: 10}}\n"
        f"data: {{start: 2021-01-01}}\nruns_dir: {runs}\n"
        "broker: {mode: emulator, cash: 10000, quote: USDT, emulator: {start: 2021-02-01}}\n"
        "live: {decision_delay_seconds: 0}\n")
    done = run_cli(["live", str(config), "--until", "2021-03-15"], capsys, limit=240)
    assert done.code == 0, done.err
    (folder,) = [path for path in runs.iterdir() if not path.name.startswith("_")]  # _assets
    decisions = query(folder, "SELECT * FROM decisions")
    assert len(decisions) >= 40
    assert len(query(folder, "SELECT * FROM fills")) > 2
    listed = run_cli(["strategies", "list", "--strategy-path", str(library)], capsys)
    assert listed.code == 0 and str(library / "crossing.py") in listed.out


def test_a_class_that_is_not_a_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    (tmp_path / "plain.py").write_text("class Plain:\n    pass\n")
    config = tmp_path / "run.yaml"
    config.write_text("name: x\nstrategy: {path: plain.py, name: Plain}\n")
    done = run_cli(["validate", str(config)], capsys)
    assert_one_line_error(done, 2, "strategy.name", "Plain in", "is not a Strategy",
                          "subclass papertrade.strategies.base.Strategy")
