"""Bad input: one line naming the file, the key and the fix; exit code 2; no traceback;
nothing already written is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from papertrade.cli import main
from tests.cli_harness import assert_one_line_error, run_cli
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


# --------------------------------------------------------------------------- issue 9, items 6, 10
# Configs that used to hang or crash, and errors that used to echo kilobytes of input: each is
# now one bounded line with exit code 2, in well under the time limit, through `validate` (the
# very load a backtest or a live run starts with).

MOMENTUM = FLAGSHIP.parent / "momentum_rotation.yaml"
HUGE = "x" * 100_000


def _alias_bomb(levels: int = 9) -> str:
    text = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels):
        text += f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n"
    return text


HOSTILE: list[tuple[str, str, list[str], str, str]] = [
    ("alias-bomb", GOOD + "\nbomb:\n" + "".join(
        f"  {line}\n" for line in _alias_bomb().splitlines()), [], "line ",
     "expands to more than 10,000 values (YAML aliases)"),
    ("alias-bomb-in-override", GOOD, ["--set", "strategy.params.x=" + "[" * 40 + "]" * 40],
     "strategy.params.x", "nested deeper than 32 levels"),
    ("recursive-alias", GOOD + "\nloop: &loop [1, *loop]\n", [], "line ",
     "refers to a value that contains it"),
    ("recursive-alias-in-override", GOOD, ["--set", "name=&a {x: *a}"], "name",
     "refers to a value that contains it"),
    ("nesting-1000", GOOD + "\nextra: " + "[" * 1000 + "]" * 1000 + "\n", [], "line ",
     "nested deeper than 32 levels"),
    ("nesting-200-blocks", GOOD + "\n" + "".join(
        f"{' ' * i}k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n", [], "line ",
     "nested deeper than 32 levels"),
    ("cash-inf", variant("cash: 10000", "cash: .inf"), [], "broker.cash",
     "not a finite number (got inf)"),
    ("cash-1e308", variant("cash: 10000", "cash: 1.0e+308"), [], "broker.cash",
     "1e+308 is out of range"),
    ("cash-1e13", variant("cash: 10000", "cash: 1.0e+13"), [], "broker.cash",
     "less than or equal to 1000000000000"),
    ("cash-5e-324", variant("cash: 10000", "cash: 5.0e-324"), [], "broker.cash",
     "greater than or equal to 1"),
    ("cash-nan-text", variant("cash: 10000", "cash: nan"), [], "broker.cash",
     "finite number"),
    ("window-2**63", variant("momentum_days: 30", "momentum_days: 9223372036854775808"), [],
     "strategy.params.rotation.momentum_days", "out of range"),
    ("lookback-2**63", variant("lookback: all", "lookback: 9223372036854775808"), [],
     "strategy.params.breakout.lookback", "out of range"),
    ("ma-2**63-1", variant("ma_days: 50 ", "ma_days: 9223372036854775807 "), [],
     "strategy.params.exit.ma_days", "out of range"),
    ("int-of-5000-digits", GOOD, ["--set", "strategy.params.exit.ma_days=" + "9" * 5000],
     "strategy.params.exit.ma_days", "YAML value cannot be read"),
    ("fee-nan", variant("fee_bps: 10", "fee_bps: .nan"), [], "broker.fee_bps",
     "not a finite number"),
    ("staleness-inf", GOOD, ["--set", "data.max_staleness.crypto=.inf"],
     "data.max_staleness.crypto", "not a finite number"),
    ("start-year-1", variant("start: 2016-01-01", "start: 0001-01-01"), [], "data.start",
     "greater than or equal to 1900-01-01"),
    ("unhashable-key", GOOD + "\n? [a, b]\n: 1\n", [], "line ", "a key must be a plain value"),
]


@pytest.mark.parametrize(("text", "args", "key", "fix"),
                         [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_config_fails_fast_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
    text: str, args: list[str], key: str, fix: str,
) -> None:
    config = tmp_path / "hostile.yaml"
    config.write_text(text)
    result = run_cli(["validate", str(config), *args], capsys, limit=10)
    line = assert_one_line_error(result, 2, str(config), key, fix)
    assert len(line) < 400, line
    assert result.seconds < 5, result.seconds


def test_min_return_nan_no_longer_trades_nothing_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "momentum.yaml"
    config.write_text(MOMENTUM.read_text().replace("min_return: 0.0", "min_return: .nan"))
    result = run_cli(["backtest", str(config), "--no-report", "--set", f"runs_dir={tmp_path}"],
                     capsys)
    assert_one_line_error(result, 2, "strategy.params.min_return",
                          "not a finite number (got nan)")


@pytest.mark.parametrize("cash", ["1.0e+308", ".inf", "5.0e-324"])
def test_absurd_cash_is_refused_before_the_backtest_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cash: str
) -> None:
    config = tmp_path / "cash.yaml"
    config.write_text(variant("cash: 10000", f"cash: {cash}")
                      + f"\nruns_dir: {tmp_path / 'runs'}\n")
    result = run_cli(["backtest", str(config), "--no-report", "--start", "2024-01-01",
                      "--end", "2024-01-31"], capsys)
    assert_one_line_error(result, 2, "broker.cash")
    assert not (tmp_path / "runs").exists()


ECHOES: list[tuple[str, str, list[str], str]] = [
    ("long-name", variant("name: rut-breakout-rotation", f"name: {HUGE}"), [], "name"),
    ("long-strategy", variant("name: rut_breakout_rotation", f"name: {HUGE}"), [],
     "strategy.name"),
    ("long-cash", variant("cash: 10000", f"cash: {HUGE}"), [], "broker.cash"),
    ("long-unknown-key", GOOD + f"\n{HUGE[:1000]}: 1\n", [], "xxxxxxxx"),
    ("long-alt", variant("LINK/USDT]", f"LINK/USDT, {HUGE}/USDT]"), [],
     "strategy.params.alts[8]"),
    ("long-env-var", variant("cash: 10000", "cash: ${" + "X" * 100_000 + "}"), [],
     "broker.cash"),
    ("long-override", GOOD, ["--set", f"broker.quote={HUGE}"], "broker.quote"),
    ("long-csv-path", variant("  end: null", f"  end: null\n  symbols:\n    RUT: "
                              f"{{source: csv, path: {HUGE}}}"), [], "data.symbols.RUT.path"),
]


@pytest.mark.parametrize(("text", "args", "key"), [c[1:] for c in ECHOES],
                         ids=[c[0] for c in ECHOES])
def test_errors_never_echo_kilobytes_of_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, args: list[str], key: str,
) -> None:
    config = tmp_path / "echo.yaml"
    config.write_text(text)
    result = run_cli(["validate", str(config), *args], capsys, limit=10)
    line = assert_one_line_error(result, 2, str(config), key)
    assert len(line) < 600, len(line)
    assert "x" * 300 not in line and "X" * 300 not in line


def test_csv_errors_are_one_line_without_pandas_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "date,open,high,low,close,volume\n"
    files = {
        "fields": header + "2024-01-02,1,1,1,1,1\n2024-01-03,1,1,1,1,1,5,6\n",
        "mixed": header + "2024-01-02T00:00:00+00:00,1,1,1,1,1\n2024-01-03,1,1,1,1,1\n"
                 "2024-01-04T00:00:00-05:00,1,1,1,1,1\n",
        "huge-cell": header + f"2024-01-02,1,1,1,{HUGE},1\n",
        "huge-date": header + f"{HUGE},1,1,1,1,1\n",
        "bad-columns": f"{HUGE},b\n1,2\n",
    }
    for name, content in files.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(content)
        config = tmp_path / f"{name}.yaml"
        config.write_text(variant("  end: null", "  end: null\n  symbols:\n    RUT: "
                                  f"{{source: csv, path: {path}}}")
                          + f"\nruns_dir: {tmp_path / 'runs'}\n")
        result = run_cli(["backtest", str(config), "--no-report"], capsys)
        line = assert_one_line_error(result, 3, str(path))
        assert len(line) < 400, (name, line)
        assert "Pass utc=True" not in line and "x" * 200 not in line, line


def test_a_universe_of_ten_thousand_symbols_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A long list written out is no alias bomb, and checking its symbols is linear (it was
    quadratic: 10,000 symbols never finished)."""
    import yaml

    config = yaml.safe_load((FLAGSHIP.parent / "momentum_rotation.yaml").read_text())
    majors = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"]
    config["strategy"]["params"]["universe"] = [majors[i % 4] for i in range(10_000)]
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_cli(["validate", str(path)], capsys, limit=20)
    assert result.code == 0, result.err
    assert "momentum_rotation on BTC/USDT, ETH/USDT, SOL/USDT, BNB/USDT" in result.out
