"""Run ``papertrade.cli.main(argv)`` in-process, as a user's shell would, and judge the outcome.

The contract every bad input must honour (issue 9): exit 0 on valid input, otherwise exactly one
``error: ...`` line of bounded length on stderr with the family's documented exit code, no
traceback, within a time limit; and nothing written outside the runs directory.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest

from papertrade import cli

# The documented exit codes (papertrade/errors.py) an input problem may end with.
INPUT_CODES = {2: "bad input", 3: "market data"}
MAX_ERROR_CHARS = 800  # "error: " + file + key + problem + fix, each part capped


class CliTimeout(Exception):
    """The command ran longer than its limit (raised from a SIGALRM handler)."""


@dataclass(frozen=True)
class CliResult:
    """What one command did."""

    code: int
    out: str
    err: str
    seconds: float

    @property
    def error_lines(self) -> list[str]:
        """The ``error: ...`` lines on stderr."""
        return [line for line in self.err.splitlines() if line.startswith("error: ")]


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise CliTimeout(f"the command ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str],
            limit: float = 30.0) -> CliResult:
    """``papertrade.cli.main(argv)`` with its exit code, stdout and stderr."""
    capsys.readouterr()
    start = time.monotonic()
    code = 0
    try:
        with _time_limit(limit):
            cli.main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    seconds = time.monotonic() - start
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err, seconds)


def assert_clean_outcome(result: CliResult, context: str = "") -> None:
    """Exit 0, or one bounded ``error:`` line with a documented input exit code; never a
    traceback."""
    where = f"{context}\n{result.err[-2000:]}"
    assert "Traceback" not in result.err, where
    assert result.seconds < 30, where
    if result.code == 0:
        assert result.error_lines == [], where
        return
    assert result.code in INPUT_CODES, f"exit {result.code}: {where}"
    assert len(result.error_lines) == 1, where
    line = result.error_lines[0]
    assert len(line) <= MAX_ERROR_CHARS, f"{len(line)} chars: {line[:300]}"
    assert result.err.strip().endswith(line), where  # the error line is the last thing said


def assert_one_line_error(result: CliResult, code: int, *fragments: str) -> str:
    """A single ``error:`` line with exit ``code`` that contains every fragment."""
    assert_clean_outcome(result)
    assert result.code == code, f"exit {result.code}, expected {code}: {result.err[-2000:]}"
    line = result.error_lines[0]
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def tree(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (except under ``skip``) with its size and mtime."""
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        if skip is not None and Path(folder).resolve().is_relative_to(skip.resolve()):
            dirs[:] = []
            continue
        for name in files:
            path = Path(folder) / name
            stat = path.stat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
        found.update({str((Path(folder) / d).relative_to(root)) + "/": (0, 0) for d in dirs})
    return found
