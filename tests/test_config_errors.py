"""Bad input: one line naming the file, the key and the fix; exit code 2; no traceback;
nothing already written is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from papertrade.cli import main
from tests.conftest import FLAGSHIP

GOOD = FLAGSHIP.read_text()


def variant(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


# (id, YAML text or None for "no file", extra CLI args, key expected in the message,
#  a fragment of the fix expected in the message)
CASES: list[tuple[str, str | None, list[str], str, str]] = [
    ("yaml-syntax", variant("name: rut-breakout-rotation", "name: [rut"), [],
     "line ", "fix the YAML"),
    ("duplicate-key", GOOD + "\nname: again\n", [], "line ", "duplicate key 'name'"),
    ("unknown-top-key", variant("broker:", "brokr:"), [], "brokr", "did you mean 'broker'?"),
    ("unknown-param", variant("lookback: all", "lookbak: all"), [],
     "strategy.params.breakout.lookbak", "did you mean 'lookback'?"),
    ("wrong-type", variant("cash: 10000", "cash: lots"), [], "broker.cash", "correct the value"),
    ("negative-window", variant("lookback: all", "lookback: -5"), [],
     "strategy.params.breakout.lookback", "correct the value"),
    ("zero-momentum", variant("momentum_days: 30", "momentum_days: 0"), [],
     "strategy.params.rotation.momentum_days", "greater than or equal to 1"),
    ("negative-fee", variant("fee_bps: 10", "fee_bps: -1"), [], "broker.fee_bps",
     "greater than or equal to 0"),
    ("unknown-strategy", variant("name: rut_breakout_rotation", "name: rut_breakout"), [],
     "strategy.name", "did you mean 'rut_breakout_rotation'?"),
    ("unknown-symbol", variant("LINK/USDT]", "LINK/USDT, DOGGY/USDT]"), [],
     "strategy.params.alts[8]", "did you mean 'DOGE/USDT'?"),
    ("start-after-end", variant("end: null", "end: 2015-01-01"), [], "data",
     "is after end"),
    ("bad-date", variant("start: 2016-01-01", "start: 2016-13-01"), [], "data.start",
     "correct the value"),
    ("missing-csv", variant(
        "  end: null", "  end: null\n  symbols:\n    SPX: {source: csv, path: nope/GSPC.csv}"),
     [], "data.symbols.SPX.path", "fix the path"),
    ("unknown-source", variant("  end: null", "  end: null\n  symbols:\n    RUT: {source: ftp}"),
     [], "data.symbols.RUT", "use one of: bundled, csv, yfinance, ccxt"),
    ("no-data-in-range", variant("start: 2016-01-01", "start: 2031-01-01"), [], "data.start",
     "pick dates inside the available data"),
    ("missing-strategy", "name: x\nbroker: {cash: 1}\n", [], "strategy",
     "required key is missing"),
    ("env-unset", variant("cash: 10000", "cash: ${PAPERTRADE_TEST_UNSET_CASH}"), [],
     "broker.cash", "export PAPERTRADE_TEST_UNSET_CASH"),
    ("bad-override", GOOD, ["--set", "broker.fee_bps=abc"], "broker.fee_bps",
     "correct the value"),
    ("override-unknown-key", GOOD, ["--set", "strategy.params.rotation.topk=2"],
     "strategy.params.rotation.topk", "did you mean 'top_k'?"),
    ("top-level-list", "- name: x\n", [], ".yaml", "write 'key: value' pairs"),
    ("empty-file", "", [], ".yaml", "see configs/"),
    ("file-not-found", None, [], "missing.yaml", "check the path"),
    ("quote-mismatch", variant("quote: USDT", "quote: USD"), [], "strategy.params.btc",
     "set broker.quote to USDT"),
    ("exit-never", variant("below_level_pct: 5.0", "below_level_pct: null").replace(
        "ma_days: 50 ", "ma_days: null "), [], "strategy.params.exit",
     "the position never exits"),
    ("btc-in-alts", variant("alts: [ETH/USDT,", "alts: [BTC/USDT, ETH/USDT,"), [],
     "strategy.params", "remove it from alts"),
    ("bad-name", variant("name: rut-breakout-rotation", "name: my run!"), [], "name",
     "correct the value"),
    ("bad-cli-date", GOOD, ["--start", "2020-02-30"], "--start", "YYYY-MM-DD"),
]


@pytest.mark.parametrize(("text", "args", "key", "fix"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_is_one_line_with_file_key_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
    text: str | None, args: list[str], key: str, fix: str,
) -> None:
    runs = tmp_path / "runs"
    earlier = runs / "20200101T000000Z-earlier-backtest-00000000"
    earlier.mkdir(parents=True)
    (earlier / "metrics.json").write_text("{}")
    config = tmp_path / ("missing.yaml" if text is None else "bad.yaml")
    if text is not None:
        config.write_text(text.replace("name: rut-breakout-rotation",
                                       f"name: rut-breakout-rotation\nruns_dir: {runs}", 1)
                          if "runs_dir" not in text else text)
    with pytest.raises(SystemExit) as exit_info:
        main(["backtest", str(config), "--no-report", *args])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert "Traceback" not in captured.err
    if key != "--start":
        assert str(config) in line or config.name in line, line
    assert key in line, line
    assert fix in line, line
    assert sorted(p.name for p in runs.iterdir()) == [earlier.name], "a run folder appeared"
    assert (earlier / "metrics.json").read_text() == "{}"


def test_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text(variant("lookback: all", "lookbak: all"))
    result = subprocess.run(
        [sys.executable, "-m", "papertrade.cli", "validate", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "did you mean 'lookback'?" in result.stderr
    assert "Traceback" not in result.stderr
    verbose = subprocess.run(
        [sys.executable, "-m", "papertrade.cli", "-v", "validate", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr


def test_validate_accepts_every_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    for config in sorted(FLAGSHIP.parent.glob("*.yaml")):
        if "testnet" in config.name:
            continue
        main(["validate", str(config)])
        assert ": ok (" in capsys.readouterr().out
