"""Reading a run folder's files safely: whatever a folder holds, a read ends with a problem.

A run folder is data from disk, possibly damaged, half-written or hostile. Every read here

- stats the file first and refuses anything but a regular file (a FIFO named
  ``manifest.json`` would hang ``open``, a link to ``/dev/zero`` would never end), then opens
  it with ``O_NONBLOCK`` and checks again on the open descriptor (it may have been swapped);
- refuses a symlink leading out of the folder that holds it;
- reads at most a size limit (:mod:`.layout`), and parses JSON to a bounded depth.

Nothing raises for bad content: each reader returns the value and a one-line *problem*
(``''`` when all went well), which the review tools show as the reason a run is broken.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papertrade.runfolder.layout import MAX_CSV_BYTES, MAX_JSON_BYTES, MAX_JSON_DEPTH
from papertrade.util.text import one_line

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or below it once both are resolved (symlinks followed)."""
    try:
        real, base = path.resolve(), root.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False
    return real == base or base in real.parents


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def file_problem(path: Path, limit: int | None = None) -> str:
    """'' if ``path`` is a regular file, inside its folder, of at most ``limit`` bytes.

    Otherwise why not, in a few words starting with the file's name (``missing`` last, so
    callers can tell an absent file from a bad one).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return f"{path.name} missing"
    except OSError as exc:
        return f"{path.name} unreadable ({one_line(exc.strerror or str(exc), 80)})"
    if not stat.S_ISREG(info.st_mode):
        return f"{path.name} is {_kind(info.st_mode)}, not a regular file"
    if path.is_symlink() and not inside(path, path.parent):
        return f"{path.name} is a link out of its run folder"
    if limit is not None and info.st_size > limit:
        return f"{path.name} is too large ({info.st_size:,} bytes; at most {limit:,} are read)"
    return ""


def read_bytes(path: Path, limit: int) -> tuple[bytes | None, str]:
    """(content, problem) of a regular file of at most ``limit`` bytes, read without blocking."""
    problem = file_problem(path, limit)
    if problem:
        return None, problem
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return None, f"{path.name} unreadable ({one_line(exc.strerror or str(exc), 80)})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped since the stat above
            return None, f"{path.name} is {_kind(info.st_mode)}, not a regular file"
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return None, f"{path.name} unreadable ({one_line(exc.strerror or str(exc), 80)})"
    finally:
        os.close(fd)
    if size > limit:
        return None, f"{path.name} is too large (more than {limit:,} bytes)"
    return b"".join(chunks), ""


def depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``[1]`` is 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
        else:
            continue
        deepest = max(deepest, level + 1)
    return deepest


def loads(raw: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that raises ``ValueError`` (never ``RecursionError``) past ``max_depth``."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise ValueError(f"nested more than {max_depth} levels deep") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise ValueError("a number too long to parse") from None
    if depth(value) > max_depth:
        raise ValueError(f"nested more than {max_depth} levels deep")
    return value


def read_json(path: Path, limit: int = MAX_JSON_BYTES) -> tuple[Any, str]:
    """(value, problem): problem is '' when the file was read and parsed."""
    raw, problem = read_bytes(path, limit)
    if raw is None:
        return None, problem
    if not raw.strip():
        return None, f"{path.name} is empty (half-written?)"
    try:
        return loads(raw), ""
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return None, f"{path.name} is not valid JSON ({where}): half-written or corrupted"
    except UnicodeDecodeError:
        return None, f"{path.name} is not UTF-8 text: corrupted"
    except ValueError as exc:  # too deep, or an integer of thousands of digits
        return None, f"{path.name} is not usable JSON ({one_line(str(exc), 80)})"


@dataclass(frozen=True)
class CsvTable:
    """A CSV file as text rows; ``problem`` says what was skipped or why it is empty."""

    header: list[str]
    rows: list[list[str]]
    problem: str = ""

    def dicts(self) -> list[dict[str, str]]:
        """The rows as ``{column: text}``."""
        return [dict(zip(self.header, row, strict=True)) for row in self.rows]


def read_csv(path: Path, limit: int = MAX_CSV_BYTES) -> CsvTable:
    """Read a run CSV; rows of the wrong width (a live writer mid-line) are skipped."""
    raw, problem = read_bytes(path, limit)
    if raw is None:
        return CsvTable([], [], problem)
    try:
        lines = list(csv.reader(io.StringIO(raw.decode("utf-8", errors="replace"), newline="")))
    except csv.Error as exc:
        return CsvTable([], [], f"{path.name} unreadable ({one_line(str(exc), 80)})")
    if not lines or not lines[0]:
        return CsvTable([], [], f"{path.name} is empty")
    header, body = lines[0], lines[1:]
    rows = [row for row in body if len(row) == len(header)]
    skipped = len(body) - len(rows)
    problem = f"{path.name}: {skipped} malformed row(s) skipped" if skipped else ""
    return CsvTable(header, rows, problem)
