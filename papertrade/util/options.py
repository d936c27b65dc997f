"""Command-line values every command parses alike."""

from __future__ import annotations

import datetime as dt


def date_option(name: str, value: str | None) -> dt.date | None:
    """``value`` of the option ``name`` as a date (None stays None); a one-line ConfigError
    naming the option otherwise."""
    from papertrade.errors import ConfigError

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError("command line", name, f"'{value[:40]}' is not a date",
                          "write YYYY-MM-DD") from None
