"""Reading a journal never blocks, disturbs or modifies the run's writer."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

from report_fixtures import FixtureRun, write_run

from papertrade.report.details import collect
from papertrade.report.html import write_report
from papertrade.report.journal import JournalReader
from papertrade.runfolder import read_header


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reader_sees_committed_rows_while_the_writer_holds_a_write_lock(
    live_run: FixtureRun,
) -> None:
    writer = live_run.writer
    assert writer is not None
    journal = live_run.path / "journal.sqlite"
    before = len(JournalReader(journal).equity())
    writer.execute("BEGIN IMMEDIATE")  # the writer owns the write lock from here on
    writer.execute("INSERT INTO events(time, level, kind, message) VALUES "
                   "('2026-03-04T00:00:05Z', 'ERROR', 'error', 'uncommitted error')")
    try:
        started = time.perf_counter()
        details = collect(live_run.path)
        elapsed = time.perf_counter() - started
        assert elapsed < 2.0
        assert details.header.status == "running"
        assert len(JournalReader(journal).equity()) == before
        assert all(p["message"] != "uncommitted error" for p in details.problems)
        assert not any("unreadable" in n for n in details.notes)
    finally:
        writer.execute("COMMIT")
    assert any(p["message"] == "uncommitted error" for p in collect(live_run.path).problems)


def test_writer_never_waits_while_reports_are_written(live_run: FixtureRun) -> None:
    """A busy-timeout of 0 makes the writer fail at once if a reader ever blocked it."""
    path = live_run.path / "journal.sqlite"
    writer = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    errors: list[BaseException] = []
    written: list[int] = []
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            try:
                writer.execute("BEGIN IMMEDIATE")
                writer.execute("INSERT INTO events(time, level, kind, message) VALUES "
                               "(?, 'INFO', 'info', 'tick')", (f"2026-03-05T00:00:{i:05d}Z",))
                writer.execute("COMMIT")
                written.append(i)
            except sqlite3.Error as exc:
                errors.append(exc)
                return
            i += 1
            time.sleep(0.001)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        for _ in range(3):
            collect(live_run.path, decisions=50, trades=50)
            write_report(live_run.path)
    finally:
        stop.set()
        thread.join()
    checkpoint = writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    writer.close()
    assert errors == []
    assert len(written) > 10
    assert checkpoint[0] == 0  # no reader left behind holding a snapshot


def test_reading_a_closed_journal_changes_nothing(tmp_path: Path) -> None:
    run = write_run(tmp_path, start="2025-06-01")
    journal = run.path / "journal.sqlite"
    digest, listing = _digest(journal), sorted(p.name for p in run.path.iterdir())
    details = collect(run.path)
    write_report(run.path)
    assert details.decisions
    assert _digest(journal) == digest
    after = sorted(p.name for p in run.path.iterdir())
    assert after == sorted([*listing, "report.html"])  # no -wal/-shm left behind


def test_damaged_or_older_journals_become_notes(tmp_path: Path) -> None:
    garbage = write_run(tmp_path, start="2025-06-01", name="garbage")
    (garbage.path / "journal.sqlite").write_bytes(b"not a database" * 100)
    details = collect(garbage.path)
    assert any(n.startswith("journal.sqlite unreadable") for n in details.notes)
    assert details.trades  # trades.csv still shown
    older = write_run(tmp_path, start="2025-06-01", name="older")
    conn = sqlite3.connect(older.path / "journal.sqlite")
    conn.execute("DROP TABLE decisions")
    conn.execute("DROP TABLE events")
    conn.commit()
    conn.close()
    notes = collect(older.path).notes
    assert "journal.sqlite has no 'decisions' table (older papertrade?)" in notes
    assert "journal.sqlite has no 'events' table (older papertrade?)" in notes
    assert read_header(older.path).status == "finished"
