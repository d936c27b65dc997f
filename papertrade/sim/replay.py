"""The command line that replays one simulated config through backtrader."""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


def set_value(value: Any) -> str:
    """``value`` written so that ``--set`` parses it back to the same value (YAML flow)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def backtest_command(config_path: str | Path, overrides: Mapping[str, Any] | None = None, *,
                     start: dt.date | None = None, end: dt.date | None = None) -> str:
    """``papertrade backtest CONFIG --set KEY=VALUE ...``: the backtrader run of the config
    the simulator ran with ``overrides`` (shell-quoted, ready to paste)."""
    words = ["papertrade", "backtest", str(config_path)]
    if start is not None:
        words += ["--start", start.isoformat()]
    if end is not None:
        words += ["--end", end.isoformat()]
    for key, value in (overrides or {}).items():
        words += ["--set", f"{key}={set_value(value)}"]
    return shlex.join(words)
