"""The flagship through the real console entry point, as the README runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import FLAGSHIP, ROOT

PROBE = """
import sys
from papertrade.cli import main
main(sys.argv[1:])
print("CCXT-IMPORTED" if "ccxt" in sys.modules else "NO-CCXT",
      "BT-IMPORTED" if "backtrader" in sys.modules else "NO-BT")
"""


def test_backtest_command_prints_summary_and_imports_no_ccxt(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "backtest", str(FLAGSHIP), "--no-report",
         "--set", f"runs_dir={tmp_path}", "--start", "2020-01-01", "--end", "2022-12-31"],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "NO-CCXT BT-IMPORTED" in out
    assert "strategy" in out and "BTC/USDT buy&hold" in out and "RUT buy&hold" in out
    folder = Path(out.split("run folder:")[1].split()[0])
    assert folder.parent == tmp_path
    assert "-rut-breakout-rotation-backtest-" in folder.name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["start"] == "2020-01-01" and metrics["end"] == "2022-12-31"
    assert f"{metrics['total_return']:+.1%}" in out
    assert result.stderr == ""


def test_help_does_not_import_heavy_libraries() -> None:
    probe = ("import sys\nfrom papertrade.cli import main\ntry:\n    main(['--help'])\n"
             "except SystemExit:\n    pass\n"
             "print(sorted(m for m in ('pandas', 'backtrader', 'ccxt', 'plotly') "
             "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


def test_schema_documents_strategy_params() -> None:
    result = subprocess.run([sys.executable, "-m", "papertrade.cli", "schema"],
                            capture_output=True, text=True, timeout=60, check=True)
    schema = json.loads(result.stdout)
    flagship = schema["x-strategy-params"]["rut_breakout_rotation"]
    assert "breakout" in flagship["properties"]
    assert "broker" in schema["properties"]
