"""Whether a run's writer process is still alive (``running``) or gone (``crashed``)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Final

_PID_SLACK_S: Final = 60.0


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


_BOOT: list[float | None] = []


def _process_info(pid: int) -> tuple[str, float | None] | None:
    """(state, start time as epoch seconds) from /proc, ``None`` where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except FileNotFoundError:
        return ("gone", None)
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    if not _BOOT:
        _BOOT.append(_boot_time())
    boot = _BOOT[0]
    started = None if boot is None else boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return fields[0], started


def pid_alive(pid: Any, created_at: dt.datetime | None = None) -> bool:
    """Whether ``pid`` is a live process that could be the run's writer.

    Zombies count as dead, and so does a process started well after the run was created
    (the pid was reused by an unrelated process after the writer died).
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    except OSError:
        return False
    info = _process_info(pid)
    if info is None:
        return True
    state, started = info
    if state in ("gone", "Z", "X"):
        return False
    return not (
        started is not None
        and created_at is not None
        and started > created_at.timestamp() + _PID_SLACK_S
    )
