"""Reading run folders: status, reasons, missing files, finding a run by id."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from report_fixtures import dead_pid, now, write_broken_runs, write_run

from papertrade.errors import RunFolderError
from papertrade.report.details import collect
from papertrade.report.listing import order, scan, select
from papertrade.runfolder import missing_files, read_csv, read_header, resolve_run


def test_statuses_of_a_mixed_runs_folder(fixture_runs: Path) -> None:
    headers = {h.run_id: h for h in scan(fixture_runs)}
    status = {h.name: h.status for h in headers.values() if h.name}
    assert status == {"rut-breakout-rotation": "finished", "failed-run": "failed",
                      "crashed-run": "crashed", "old-run": "finished"}
    failed = next(h for h in headers.values() if h.name == "failed-run")
    assert failed.reason == "BrokerUnavailable: exchange down"
    crashed = next(h for h in headers.values() if h.name == "crashed-run")
    assert crashed.reason.startswith("pid ")
    assert crashed.reason.endswith("is not alive")
    old = next(h for h in headers.values() if h.name == "old-run")
    assert any("older papertrade" in n for n in old.notes)


def test_every_damaged_folder_is_broken_with_its_reason(tmp_path: Path) -> None:
    expected = write_broken_runs(tmp_path)
    for skipped in ("_assets", "_compare", ".trash"):
        (tmp_path / skipped).mkdir()
    (tmp_path / "notes.txt").write_text("not a run")
    headers = {h.run_id: h for h in scan(tmp_path)}
    assert set(headers) == set(expected)
    for run_id, reason in expected.items():
        assert headers[run_id].status == "broken", run_id
        assert reason in headers[run_id].reason, (run_id, headers[run_id].reason)


def test_running_needs_a_live_pid_that_started_before_the_run(tmp_path: Path) -> None:
    alive = write_run(tmp_path, start="2025-12-01", mode="emulator", status="running",
                      pid=os.getpid(), created=now(), name="alive")
    reused = write_run(tmp_path, start="2025-12-01", mode="dry_run", status="running",
                       pid=os.getpid(), created=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                       name="reused")
    assert read_header(alive.path).status == "running"
    header = read_header(reused.path)  # this process started long after 2020: not the writer
    assert header.status == "crashed"
    assert header.reason == f"pid {os.getpid()} is not alive"


def test_a_zombie_writer_counts_as_crashed(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/stat").read_text().split(") ")[1][0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        run = write_run(tmp_path, start="2025-12-01", mode="testnet", status="running",
                        pid=proc.pid, created=now(), name="zombie")
        assert read_header(run.path).status == "crashed"
    finally:
        proc.wait()


def test_crashed_run_notes_name_the_missing_files(fixture_runs: Path) -> None:
    crashed = next(h for h in scan(fixture_runs) if h.name == "crashed-run")
    notes = missing_files(crashed)
    assert "equity.csv missing (the run crashed before writing it)" in notes
    assert "metrics.json missing (the run crashed before writing it)" in notes
    assert not any(n.startswith("journal.sqlite") for n in notes)


def test_old_format_run_is_readable_from_csvs(fixture_runs: Path) -> None:
    old = next(h for h in scan(fixture_runs) if h.name == "old-run")
    details = collect(old.path)
    assert "journal.sqlite missing (written by an older papertrade)" in details.notes
    assert "signals.csv missing (written by an older papertrade)" in details.notes
    assert details.trades
    assert details.trades_total == old.metrics["trades"]  # type: ignore[index]
    assert details.positions_source.startswith("weights.csv")
    assert details.decisions == []


def test_half_written_csv_row_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text("time,date,symbol,side\n2026-01-01T00:00:00Z,2026-01-01,BTC/USDT,buy\n"
                    "2026-01-02T00:00:00Z,2026-01-0")
    table = read_csv(path)
    assert len(table.rows) == 1
    assert table.problem == "trades.csv: 1 malformed row(s) skipped"


def test_resolve_by_id_prefix_part_latest_and_path(fixture_runs: Path) -> None:
    finished = next(h for h in scan(fixture_runs) if h.name == "rut-breakout-rotation")
    assert resolve_run(finished.run_id, fixture_runs) == finished.path
    assert resolve_run("20261121T1015", fixture_runs) == finished.path
    assert resolve_run("rut-breakout-rotation", fixture_runs) == finished.path
    assert resolve_run("latest", fixture_runs) == finished.path
    assert resolve_run(str(finished.path), Path("elsewhere")) == finished.path


def test_resolve_errors_say_what_to_do(fixture_runs: Path, tmp_path: Path) -> None:
    with pytest.raises(RunFolderError) as missing:
        resolve_run("abc", fixture_runs)
    assert str(missing.value) == (f"no run 'abc' in {fixture_runs}{os.sep}; "
                                  "`papertrade runs list` shows the ids")
    with pytest.raises(RunFolderError, match=r"'2026' matches \d+ runs .* give more of the id"):
        resolve_run("2026", fixture_runs)
    with pytest.raises(RunFolderError, match="does not exist; pass --runs-dir"):
        resolve_run("abc", tmp_path / "nope")


def test_filters_and_sorting(fixture_runs: Path) -> None:
    headers = scan(fixture_runs)
    assert {h.name for h in select(headers, mode="testnet")} == {"crashed-run"}
    assert {h.name for h in select(headers, mode="live")} == {"crashed-run"}
    assert {h.name for h in select(headers, strategy="old")} == {"old-run"}
    assert all(h.status == "broken" for h in select(headers, status="broken"))
    since = select(headers, since="2026-11-20")
    assert {h.name for h in since} == {"rut-breakout-rotation", "crashed-run"}
    ranked = [h for h in order(headers, "return") if h.metrics]
    returns = [h.metrics["total_return"] for h in ranked]  # type: ignore[index]
    assert returns == sorted(returns, reverse=True)
    assert order(headers, "return", reverse=True)[0].metrics is not None
    with pytest.raises(RunFolderError, match="did you mean 'return'"):
        order(headers, "retrun")
    with pytest.raises(RunFolderError, match=r"write e\.g\. 2026-11-01, 7d or 12h"):
        select(headers, since="last tuesday")


def test_metrics_json_that_is_not_an_object_is_noted(tmp_path: Path) -> None:
    run = write_run(tmp_path, start="2025-12-01", mode="emulator", status="running",
                    pid=dead_pid(), created=now(), name="odd")
    (run.path / "metrics.json").write_text(json.dumps([1, 2]))
    header = read_header(run.path)
    assert header.status == "crashed"
    assert header.metrics is None
    assert "metrics.json is not a JSON object" in header.notes


def test_a_run_cut_short_anywhere_still_reads_and_reports(tmp_path: Path) -> None:
    """Every file of a run cut in the middle (a writer killed mid-write): no crash, notes."""
    from papertrade.report.html import write_report

    run = write_run(tmp_path, start="2025-09-01", mode="emulator", status="running",
                    pid=os.getpid(), created=now(), name="cut")
    for path in sorted(run.path.iterdir()):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    header = read_header(run.path)
    assert header.status == "broken"
    assert header.reason.startswith("manifest.json is not valid JSON")
    details = collect(run.path)
    assert any(n.startswith("journal.sqlite unreadable") for n in details.notes)
    html = write_report(run.path).read_text()
    assert "broken: manifest.json is not valid JSON" in html
    assert 'id="chart-equity"' in html  # half of equity.csv is still a curve
