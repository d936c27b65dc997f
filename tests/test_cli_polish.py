"""The command line's rough edges, each checked as a user meets it (issue 13, item 5).

``runs list``/``runs show`` at 80 columns are checked in tests/report/test_report_settings.py;
the start-up time is a benchmark (bench/cli_startup.py), not a test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from papertrade import __version__
from tests.cli_harness import assert_one_line_error, run_cli
from tests.conftest import FLAGSHIP, ROOT

PAPERTRADE = str(Path(sys.executable).with_name("papertrade"))
HELPS = [["backtest"], ["live"], ["validate"], ["schema"], ["runs", "list"], ["runs", "show"],
         ["runs", "compare"], ["runs", "report"], ["exchange", "serve"],
         ["strategies", "list"], ["strategies", "show"], ["strategies", "new"], ["lookahead"],
         ["data", "list"], ["data", "download"], ["data", "update"], []]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PAPERTRADE, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)


def test_bare_papertrade_prints_its_help_once() -> None:
    done = cli()
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.count("Usage: papertrade") == 1
    assert done.stdout.count("Commands:") == 1 and "backtest" in done.stdout


def test_version() -> None:
    done = cli("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"papertrade {__version__}\n", "")


@pytest.mark.parametrize("command", HELPS, ids=lambda c: " ".join(c) or "papertrade")
def test_help_shows_readable_metavars(command: list[str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli([*command, "--help"], capsys)
    assert result.code == 0, result.err
    text = result.out
    assert text.startswith("Usage: papertrade")
    # the usage line and each option's or argument's name and metavar (not the help prose)
    terms, section = [text.splitlines()[0]], ""
    for line in text.splitlines():
        if line and not line.startswith(" "):
            section = line
        elif section in ("Arguments:", "Options:") and re.match(r"  \S", line):
            terms.append(re.split(r"\s{2,}", line.strip())[0])
    for term in terms:
        assert not re.search(r"[<>{}]|list\[", term), term
    assert "[OPTIONS]" in terms[0] and "--help" in terms


def test_readable_metavars_name_what_to_type(capsys: pytest.CaptureFixture[str]) -> None:
    text = run_cli(["backtest", "--help"], capsys).out
    assert "Usage: papertrade backtest [OPTIONS] CONFIG" in text
    for shown in ("--start DATE", "--end DATE", "--set KEY=VALUE", "--strategy-path DIR"):
        assert shown in text
    assert "--until DATE" in run_cli(["live", "--help"], capsys).out
    assert "--show KEY" in run_cli(["runs", "list", "--help"], capsys).out


def test_backtest_shows_what_it_is_doing_on_a_terminal(tmp_path: Path) -> None:
    child = pexpect.spawn(PAPERTRADE, ["backtest", str(FLAGSHIP), "--no-report", "--start",
                                       "2022-01-01", "--end", "2022-06-30", "--set",
                                       f"runs_dir={tmp_path}"],
                          cwd=str(ROOT), encoding="utf-8", timeout=120, dimensions=(24, 100))
    shown = child.read()
    child.close()
    assert child.exitstatus == 0, shown[-2000:]
    where = [re.search(step, shown) for step in (r"loading data: \d+ symbols",
                                                 r"deciding: \S+ on [\d,]+ bars",
                                                 r"simulating fills", r"run folder:")]
    assert all(where), shown[-2000:]
    starts = [match.start() for match in where if match]
    assert starts == sorted(starts)  # each step announced in order, before the summary


def test_exchange_serve_unknown_symbol_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(["exchange", "serve", "--symbols", "UNKNOWN/USDT"], capsys)
    line = assert_one_line_error(result, 2, "--symbols", "UNKNOWN/USDT", "BTC/USDT")
    assert "UNKNOWNUSDT" not in line  # named as the user wrote it


def test_live_until_before_the_replay_start_is_one_line(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    runs = tmp_path / "runs"
    result = run_cli(["live", str(FLAGSHIP), "--until", "2019-12-31", "--set",
                      "data.start=2020-06-01", "--set", f"runs_dir={runs}"], capsys)
    assert_one_line_error(result, 2, "--until", "2019-12-31", "2020-06-01")
    assert not runs.exists()  # refused before any run folder


@pytest.mark.parametrize("group", ["runs", "exchange", "strategies", "data"])
def test_a_bare_group_prints_its_help_once(group: str) -> None:
    done = cli(group)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.count(f"Usage: papertrade {group}") == 1
