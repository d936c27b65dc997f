"""Issue 9, items 3, 4 and 10: ``runs list|show|report`` against hostile run folders.

Every test drives the real command line in-process (``papertrade.cli.main``) over real files:

- item 3: a report is written inside the runs folder only, whatever folder or link it is given;
- item 4: a FIFO, a link to ``/dev/zero``, a deeply nested or oversized JSON file breaks that
  one run (listed as broken with its reason), never the review of the others;
- item 10: error messages and reasons are one line of bounded length, whatever the input.

A hang (today's FIFO behaviour) is turned into a failure by ``SIGALRM``.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from report_fixtures import dead_pid, write_run

from papertrade.util.text import MAX_MESSAGE
from tests.cli_harness import run_cli

Capture = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    """Fail, rather than hang, a command blocked on a FIFO."""

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError("the command hung (blocked on a FIFO?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def cli(capsys: Capture, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``papertrade ARGS`` run in this process."""
    done = run_cli(list(args), capsys)
    return done.code, done.out, done.err


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --------------------------------------------------------------------------- item 3


def test_report_of_a_folder_outside_the_runs_folder_writes_only_inside_it(
    tmp_path: Path, capsys: Capture,
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    elsewhere = tmp_path / "elsewhere"  # stands for /etc: any folder given by path
    run = write_run(elsewhere).path
    before = files_under(tmp_path / "elsewhere")
    code, out, err = cli(capsys, "runs", "report", str(run), "--runs-dir", str(runs))
    assert code == 0, err
    assert files_under(elsewhere) == before  # no report.html there, no _assets beside it
    assert not (tmp_path / "_assets").exists()
    written = runs / "_reports" / f"{run.name}.html"
    assert out.strip() == f"report: {written}"
    html = written.read_text()
    assert "rut-breakout-rotation" in html
    (asset,) = (runs / "_assets").iterdir()
    assert f'src="../_assets/{asset.name}"' in html


def test_report_of_a_link_to_elsewhere_does_not_write_through_it(
    tmp_path: Path, capsys: Capture,
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    real = write_run(tmp_path / "elsewhere").path
    before = files_under(tmp_path / "elsewhere")
    (runs / "linked").symlink_to(real, target_is_directory=True)
    code, out, err = cli(capsys, "runs", "report", "linked", "--runs-dir", str(runs))
    assert code == 0, err
    assert files_under(tmp_path / "elsewhere") == before
    assert out.strip() == f"report: {runs / '_reports' / 'linked.html'}"
    # a run of the runs folder still gets its report.html at home
    own = write_run(runs, name="own-run").path
    code, out, err = cli(capsys, "runs", "report", own.name, "--runs-dir", str(runs))
    assert code == 0, err
    assert out.strip() == f"report: {own.resolve() / 'report.html'}"


def test_an_assets_link_out_of_the_runs_folder_is_refused(
    tmp_path: Path, capsys: Capture,
) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs).path
    outside = tmp_path / "outside"
    outside.mkdir()
    (runs / "_assets").symlink_to(outside, target_is_directory=True)
    code, _, err = cli(capsys, "runs", "report", run.name, "--runs-dir", str(runs))
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "is a link out of the runs folder" in err
    assert list(outside.iterdir()) == []
    assert not (run / "report.html").exists()


def test_report_of_an_outside_folder_without_a_runs_folder_is_refused(
    tmp_path: Path, capsys: Capture,
) -> None:
    run = write_run(tmp_path / "elsewhere").path
    before = files_under(tmp_path)
    code, _, err = cli(capsys, "runs", "report", str(run), "--runs-dir",
                       str(tmp_path / "no-runs"))
    assert code == 2
    assert err.strip() == (f"error: runs folder '{tmp_path / 'no-runs'}' does not exist; "
                           "pass --runs-dir DIR")
    assert files_under(tmp_path) == before


# --------------------------------------------------------------------------- item 4


def hostile_runs(runs: Path) -> dict[str, str]:
    """Bad run folders -> the reason ``runs list`` must give (a substring of it)."""
    cases: dict[str, str] = {}

    def folder(name: str, manifest: object | None = None) -> Path:
        path = runs / f"20260201T00000{len(cases)}Z-{name}-backtest-0000000{len(cases)}"
        path.mkdir(parents=True)
        if manifest is not None:
            (path / "manifest.json").write_text(json.dumps(manifest))
        return path

    deep = folder("deep", {"format": 1, "status": "finished"})
    (deep / "metrics.json").write_text("[" * 100_000 + "]" * 100_000)
    cases[deep.name] = "finished, but metrics.json is not usable JSON (nested more than"
    nested = folder("nested", {"format": 1, "status": "finished"})
    (nested / "metrics.json").write_text('{"a": ' + "[" * 40 + "1" + "]" * 40 + "}")
    cases[nested.name] = "nested more than 32 levels deep"
    zero = folder("zero")
    (zero / "manifest.json").symlink_to("/dev/zero")
    cases[zero.name] = "manifest.json is a device, not a regular file"
    fifo = folder("fifo")
    os.mkfifo(fifo / "manifest.json")
    cases[fifo.name] = "manifest.json is a FIFO, not a regular file"
    big = folder("big")
    (big / "manifest.json").write_text(json.dumps({"format": 1, "pad": "x" * 5_000_000}))
    cases[big.name] = "manifest.json is too large"
    digits = folder("digits", {"format": 1, "status": "finished"})
    (digits / "metrics.json").write_text('{"trades": ' + "9" * 5000 + "}")
    cases[digits.name] = "metrics.json is not usable JSON (a number too long to parse)"
    return cases


def test_hostile_folders_are_broken_and_every_other_run_still_lists(
    tmp_path: Path, capsys: Capture,
) -> None:
    runs = tmp_path / "runs"
    good = write_run(runs).path
    huge_int = write_run(runs, name="huge-int", start="2025-06-01").path
    metrics = json.loads((huge_int / "metrics.json").read_text())
    (huge_int / "metrics.json").write_text(json.dumps({**metrics, "sharpe": 10**400}))
    cases = hostile_runs(runs)
    code, out, err = cli(capsys, "runs", "list", "--runs-dir", str(runs), "--sort", "sharpe")
    assert code == 0, err
    lines = out.splitlines()
    (line,) = [x for x in lines if x.startswith(good.name)]
    assert " finished " in line
    (line,) = [x for x in lines if x.startswith(huge_int.name)]
    assert " finished " in line
    for run_id, reason in cases.items():
        (line,) = [x for x in lines if x.startswith(run_id + " ")]
        assert " broken " in line and reason in line, (run_id, line)
    assert lines[-1].startswith(f"{len(cases) + 2} run(s) in {runs}: {len(cases)} broken")


def test_hostile_folders_show_and_report_with_their_reason(
    tmp_path: Path, capsys: Capture,
) -> None:
    runs = tmp_path / "runs"
    cases = hostile_runs(runs)
    assert cases
    for run_id, reason in cases.items():
        code, out, err = cli(capsys, "runs", "show", run_id, "--runs-dir", str(runs))
        assert code == 0, (run_id, err)
        assert "note: broken: " in out and reason in out, (run_id, out)
        code, out, err = cli(capsys, "runs", "report", run_id, "--runs-dir", str(runs))
        assert code == 0, (run_id, err)
        assert reason in (runs / run_id / "report.html").read_text()


def test_fifos_and_devices_in_place_of_run_files_are_notes(
    tmp_path: Path, capsys: Capture,
) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs, mode="emulator", status="running", pid=dead_pid()).path
    for name in ("equity.csv", "trades.csv", "journal.sqlite-wal"):
        (run / name).unlink(missing_ok=True)
        os.mkfifo(run / name)
    (run / "weights.csv").unlink()
    (run / "weights.csv").symlink_to("/dev/zero")
    code, out, err = cli(capsys, "runs", "show", run.name, "--runs-dir", str(runs))
    assert code == 0, err
    assert "crashed" in out
    for note in ("journal.sqlite unreadable (journal.sqlite-wal is a FIFO, not a regular file)",
                 "trades.csv is a FIFO, not a regular file",
                 "weights.csv is a device, not a regular file"):
        assert f"note: {note}\n" in out
    code, out, err = cli(capsys, "runs", "report", run.name, "--runs-dir", str(runs))
    assert code == 0, err
    html = (run / "report.html").read_text()
    for note in ("equity.csv is a FIFO, not a regular file",
                 "weights.csv is a device, not a regular file"):
        assert note in html


def test_a_file_linked_out_of_its_run_folder_is_not_read(
    tmp_path: Path, capsys: Capture,
) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs).path
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"format": 1, "status": "finished", "name": "PRIVATE-DATA"}))
    (run / "manifest.json").unlink()
    (run / "manifest.json").symlink_to(private)
    code, out, err = cli(capsys, "runs", "list", "--runs-dir", str(runs))
    assert code == 0, err
    assert "manifest.json is a link out of its run folder" in out
    assert "PRIVATE-DATA" not in out


# --------------------------------------------------------------------------- item 10


def one_bounded_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines[:3]
    assert len(lines[0]) <= len("error: ") + MAX_MESSAGE, len(lines[0])
    return lines[0]


def test_huge_or_multiline_input_gives_one_short_error_line(
    tmp_path: Path, capsys: Capture,
) -> None:
    runs = tmp_path / "runs"
    write_run(runs)
    huge = "x" * 100_000
    cases = [
        (("runs", "show", huge), "error: no run 'xxxx"),
        (("runs", "show", "a\nb\nc" * 1000), "error: no run 'a b ca b c"),
        (("runs", "report", "/" + huge), "error: no run folder at '/xxx"),
        (("runs", "list", "--since", huge), "error: --since 'xxx"),
        (("runs", "list", "--sort", "ret\nurn" + huge), "error: --sort 'ret urnxxx"),
        (("runs", "list", "--mode", huge), "error: --mode 'xxx"),
    ]
    for args, start in cases:
        code, _, err = cli(capsys, *args, "--runs-dir", str(runs))
        assert code == 2, args[:2]
        line = one_bounded_line(err)
        assert line.startswith(start), line
    code, _, err = cli(capsys, "runs", "show", "x", "--runs-dir", str(tmp_path / huge[:200]))
    assert code == 2
    assert "does not exist; pass --runs-dir" in one_bounded_line(err)


def test_a_huge_multiline_error_in_a_manifest_is_shown_on_one_short_line(
    tmp_path: Path, capsys: Capture,
) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs, status="failed").path
    manifest = json.loads((run / "manifest.json").read_text())
    error = "StrategyError: boom\n" + "  File 'x.py', line 1\n" * 5000
    (run / "manifest.json").write_text(json.dumps({**manifest, "error": error,
                                                   "status": "unheard\nof" * 1000}))
    other = write_run(runs, status="failed", name="other-run").path
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "error": error}))
    code, out, err = cli(capsys, "runs", "list", "--runs-dir", str(runs))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 4  # header, two runs, summary
    (line,) = [x for x in lines if x.startswith(run.name)]
    assert "manifest status 'unheard\\nofunheard" in line and len(line) < 400
    (line,) = [x for x in lines if x.startswith(other.name)]
    assert "StrategyError: boom File 'x.py', line 1" in line and len(line) < 500
    code, out, err = cli(capsys, "runs", "show", other.name, "--runs-dir", str(runs))
    assert code == 0, err
    (note,) = [x for x in out.splitlines() if x.startswith("note: failed: ")]
    assert len(note) <= len("note: failed: ") + MAX_MESSAGE
