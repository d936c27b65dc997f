"""Issue 9, item 8: a key never reaches a run folder, whatever config key it was put in.

The real code paths: a real backtest and a real ``live`` start through the command line in
this process, every file of the run folder searched byte by byte.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from papertrade.util.secrets import MASK
from tests.cli_harness import run_cli
from tests.conftest import FLAGSHIP

PASTED = "pk" + secrets.token_hex(24)  # a key pasted where its variable's name belongs
TOKEN = "tk" + secrets.token_hex(24)  # a secret variable interpolated into a plain key
SECRET = "sc" + secrets.token_hex(24)  # the value of a variable a *_env key names


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """(exit code, stdout + stderr) of ``papertrade ARGS`` run in this process."""
    done = run_cli(list(args), capsys)
    return done.code, done.out + done.err


def leaks(folder: Path, *needles: str) -> list[str]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "config.yaml" for p in files)
    return [f"{p.relative_to(folder)}: {n[:6]}" for p in files for n in needles
            if n.encode() in p.read_bytes()]


def test_backtest_writes_no_key_put_in_any_config_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PT_TEST_EXCHANGE_TOKEN", TOKEN)
    monkeypatch.setenv("PT_TEST_SECRET_VALUE", SECRET)
    config = tmp_path / "flagship.yaml"
    config.write_text(FLAGSHIP.read_text() + "\n".join([
        "",
        "  exchange: ${PT_TEST_EXCHANGE_TOKEN}",
        f"  api_key_env: {PASTED}",
        "  secret_env: PT_TEST_SECRET_VALUE",
        "",
    ]))
    runs = tmp_path / "runs"
    code, output = cli(capsys, "backtest", str(config), "--set", f"runs_dir={runs}",
                       "--start", "2020-06-01", "--end", "2021-06-30")
    assert code == 0, output
    assert leaks(runs, PASTED, TOKEN, SECRET) == []
    assert PASTED not in output and TOKEN not in output
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith("_")]
    written = (folder / "config.yaml").read_text()
    assert f"api_key_env: '{MASK}'" in written
    assert f"exchange: '{MASK}'" in written
    assert "secret_env: PT_TEST_SECRET_VALUE" in written  # a variable's name is kept
    assert "name: rut_breakout_rotation" in written  # control: the rest is there


def test_live_start_writes_no_key_pasted_into_an_env_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    runs = tmp_path / "runs"
    code, output = cli(
        capsys, "live", str(FLAGSHIP), "--once", "--set", f"runs_dir={runs}",
        "--set", "broker.mode=emulator", "--set", "broker.emulator.url=http://127.0.0.1:9",
        "--set", f"broker.emulator.api_key_env={PASTED}",
    )
    assert code == 2, output  # no such variable: refused before any request
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith("_")]
    assert PASTED not in (folder / "config.yaml").read_text()
    assert f"api_key_env: '{MASK}'" in (folder / "config.yaml").read_text()
    assert PASTED not in (folder / "manifest.json").read_text()
    assert PASTED not in output
    assert "not an environment variable name" in output
