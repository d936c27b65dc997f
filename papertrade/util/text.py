"""Words for users: did-you-mean suggestions and one-line messages of bounded length."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MAX_MESSAGE = 300


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """'did you mean 'x'?' for the closest option, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line (whitespace runs folded), cut to ``limit`` characters with '…'."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
