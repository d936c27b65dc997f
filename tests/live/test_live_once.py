"""``live --once`` decides now or says exactly why not; failed starts keep their errors
(issue 14, items 2 and 6). Everything runs against the emulator in-process (real ccxt client
over loopback HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from papertrade.data.bars import bundled_file
from papertrade.exchange_sim.server import EmulatorServer
from tests.cli_harness import run_cli
from tests.conftest import FLAGSHIP, query

EMULATOR = ["--set", "broker.mode=emulator", "--set", "broker.emulator.start=2020-11-12",
            "--set", "live.decision_delay_seconds=0"]


def _folders(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith("_"))


def test_once_decides_on_the_latest_bar_and_stops(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    result = run_cli(["live", str(FLAGSHIP), "--once", *EMULATOR, "--set", f"runs_dir={runs}"],
                     capsys, limit=60)
    assert result.code == 0, result.out + result.err
    (folder,) = _folders(runs)
    assert [r["date"] for r in query(folder, "SELECT date FROM decisions")] == ["2020-11-12"]
    assert "decision 2020-11-12: RUT close 1,708.47" in result.out
    assert "stopped: --once (1 decision; equity 10,000.00)" in result.out
    assert "None -> None" not in result.out


def test_once_says_exactly_why_it_cannot_decide(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The RUT file ends on 2020-10-15: on 2020-11-13 it is 28 days stale."""
    rut = pd.read_csv(bundled_file("RUT"))
    csv = tmp_path / "RUT.csv"
    rut[rut["date"] <= "2020-10-15"].to_csv(csv, index=False)
    runs = tmp_path / "runs"
    result = run_cli(["live", str(FLAGSHIP), "--once", *EMULATOR, "--set", f"runs_dir={runs}",
                      "--set", f"data.symbols.RUT={{source: csv, path: {csv}}}"], capsys,
                     limit=60)
    assert result.code == 3, result.out + result.err
    why = ("the latest RUT close in csv is of 2020-10-15, 28 days old (data.max_staleness "
           "allows 7); the next RUT close is not published until 2020-11-13 21:00 UTC")
    assert f"no decision at 2020-11-13 00:00:00 UTC: {why}" in result.out
    assert result.error_lines == [f"error: {why} (run folder {_folders(runs)[0]})"]
    assert "None -> None" not in result.out
    assert query(_folders(runs)[0], "SELECT * FROM decisions") == []


def test_failed_starts_each_keep_their_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             flagship_emulator: Callable[[str], EmulatorServer]
                                             ) -> None:
    """The same config fails twice (a wrong secret, then an unknown key), then starts: three
    run folders, each failed one with its own error in its manifest and its journal."""
    server = flagship_emulator("2020-11-12")
    runs = tmp_path / "runs"
    command = ["live", str(FLAGSHIP), "--once", "--set", "broker.mode=emulator",
               "--set", f"runs_dir={runs}", "--set", f"broker.emulator.url={server.base_url}",
               "--set", "live.decision_delay_seconds=0"]
    attempts = [("0" * 64, server.api_key, "Signature for this request is not valid"),
                (server.secret, "k" * 64, "Invalid API-key")]
    for secret, key, _error in attempts:
        monkeypatch.setenv("PAPERTRADE_EMULATOR_KEY", key)
        monkeypatch.setenv("PAPERTRADE_EMULATOR_SECRET", secret)
        failed = run_cli(command, capsys, limit=60)
        assert failed.code == 2, failed.err
    monkeypatch.setenv("PAPERTRADE_EMULATOR_KEY", server.api_key)
    monkeypatch.setenv("PAPERTRADE_EMULATOR_SECRET", server.secret)
    done = run_cli(command, capsys, limit=60)
    assert done.code == 0, done.out + done.err
    folders = _folders(runs)
    assert len(folders) == 3, "a start reused an earlier failed run's folder"
    manifests = [json.loads((f / "manifest.json").read_text()) for f in folders]
    assert [m["status"] for m in manifests] == ["failed", "failed", "finished"]
    for folder, manifest, (_secret, _key, error) in zip(folders, manifests, attempts,
                                                        strict=False):
        assert error in manifest["error"] and "0" * 64 not in manifest["error"]
        shown = run_cli(["runs", "show", folder.name, "--runs-dir", str(runs)], capsys)
        assert shown.code == 0, shown.err
        text = " ".join(shown.out.split())
        assert "failed: BrokerRejected: fetch_balance: AuthenticationError" in text
        assert error in text.split("errors and rejections", 1)[1]  # the journal keeps it too


def test_once_again_on_a_decided_bar_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             flagship_emulator: Callable[[str], EmulatorServer]
                                             ) -> None:
    server = flagship_emulator("2020-11-12")
    monkeypatch.setenv("PAPERTRADE_EMULATOR_KEY", server.api_key)
    monkeypatch.setenv("PAPERTRADE_EMULATOR_SECRET", server.secret)
    runs = tmp_path / "runs"
    command = ["live", str(FLAGSHIP), "--once", "--set", "broker.mode=emulator",
               "--set", f"runs_dir={runs}", "--set", f"broker.emulator.url={server.base_url}",
               "--set", "live.decision_delay_seconds=0"]
    first = run_cli(command, capsys, limit=60)
    assert first.code == 0, first.out + first.err
    # the emulator's clock says 2020-11-12 00:00: the latest closed bar is 2020-11-11's
    assert "decision 2020-11-11:" in first.out
    (folder,) = _folders(runs)
    again = run_cli([*command, "--resume", str(folder)], capsys, limit=60)
    assert again.code == 0, again.out + again.err
    assert ("no decision at 2020-11-12 00:00:00 UTC: already decided in this run; the next "
            "bar closes at 2020-11-13T00:00:00Z" in again.out), again.out
    assert len(query(folder, "SELECT * FROM decisions")) == 1
