"""The package layout: one import name (``papertrade``), and one direction of imports.

``strategies/`` and ``brokers/`` live at the top of the repository but are installed as
``papertrade.strategies`` and ``papertrade.brokers`` (symlinks inside the package), never as
the generic top-level names ``strategies`` and ``brokers``. The import contract (import-linter,
``[tool.importlinter]`` in pyproject.toml) enforces config -> data -> strategy -> kernel ->
broker -> review; a reversed import fails it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_no_generic_top_level_package_is_installed(tmp_path: Path) -> None:
    probe = ("import importlib.util as u, papertrade.strategies as s, papertrade.brokers as b;"
             "print(u.find_spec('strategies'), u.find_spec('brokers'));"
             "print(s.__file__); print(b.__file__)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, check=True)
    specs, strategies, brokers = done.stdout.splitlines()
    assert specs == "None None"
    assert Path(strategies).resolve() == ROOT / "strategies" / "__init__.py"
    assert Path(brokers).resolve() == ROOT / "brokers" / "__init__.py"
    # what the installer recorded in site-packages (not a stale egg-info in the checkout)
    site = Path(sysconfig.get_paths()["purelib"])
    (dist,) = site.glob("papertrade-*.dist-info")
    record = (dist / "RECORD").read_text().splitlines()
    tops = {Path(line.split(",")[0]).parts[0] for line in record}
    assert not tops & {"strategies", "brokers"}, tops
    for finder in site.glob("__editable___papertrade_*_finder.py"):  # an editable install
        mapping = finder.read_text().split("MAPPING", 1)[1].split("\n", 1)[0]
        assert "'papertrade'" in mapping and "strategies" not in mapping, mapping


def test_the_import_contract_holds() -> None:
    done = subprocess.run([str(LINT_IMPORTS)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "broken" not in done.stdout.split("Contracts:")[-1].split(",")[0]


def test_a_reversed_import_breaks_the_contract(tmp_path: Path) -> None:
    """A copy of the package in which a strategy imports the kernel: the contract fails."""
    copy = tmp_path / "papertrade"
    shutil.copytree(ROOT / "papertrade", copy, symlinks=False,
                    ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    signals = copy / "strategies" / "signals.py"
    signals.write_text(signals.read_text() + "\nimport papertrade.trader  # reversed\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    done = subprocess.run([str(LINT_IMPORTS)], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stdout[-3000:]
    assert "papertrade.strategies.signals -> papertrade.trader" in done.stdout
