"""Walk-forward windows and the out-of-sample stitch.

``--walk-forward 3y:6m``: train on 3 years, trade the next 6 months, roll forward by the test
length (``--anchored``: every train window starts at the first bar). On each train window the
best config by the objective is chosen from the whole grid; it trades the next test window
starting flat with the capital the previous fold ended with, so the stitched out-of-sample
curve is continuous (positions are not carried across folds: each fold starts in cash).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

import pandas as pd

from papertrade.errors import ConfigError

_SPAN: Final = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Fold:
    """One fold's train and test windows (inclusive bar dates)."""

    fold: int
    train_start: dt.date
    train_end: dt.date
    test_start: dt.date
    test_end: dt.date


def parse_span(text: str) -> pd.DateOffset:
    """``90d``, ``12w``, ``6m``, ``3y`` as a calendar offset."""
    match = _SPAN.match(text)
    if not match or int(match.group(1)) == 0:
        raise ConfigError("command line", "--walk-forward", f"'{text[:40]}' is not a span",
                          "write TRAIN:TEST with spans like 3y, 18m, 12w, 90d, e.g. 3y:6m")
    n, unit = int(match.group(1)), match.group(2).lower()
    return {"d": pd.DateOffset(days=n), "w": pd.DateOffset(weeks=n),
            "m": pd.DateOffset(months=n), "y": pd.DateOffset(years=n)}[unit]


def parse_walk_forward(text: str) -> tuple[pd.DateOffset, pd.DateOffset]:
    """``TRAIN:TEST`` spans."""
    train, sep, test = text.partition(":")
    if not sep:
        raise ConfigError("command line", "--walk-forward", f"'{text[:40]}' has no ':'",
                          "write TRAIN:TEST, e.g. 3y:6m")
    return parse_span(train), parse_span(test)


def folds(first: dt.date, last: dt.date, spec: str, anchored: bool = False) -> list[Fold]:
    """The folds over the bars ``first..last``; the last test window is cut at ``last``."""
    train, test = parse_walk_forward(spec)
    out: list[Fold] = []
    start = pd.Timestamp(first)
    test_start = start + train
    end = pd.Timestamp(last)
    while test_start <= end:
        train_start = pd.Timestamp(first) if anchored else test_start - train
        test_end = min(test_start + test - pd.Timedelta(days=1), end)
        out.append(Fold(len(out) + 1, train_start.date(),
                        (test_start - pd.Timedelta(days=1)).date(), test_start.date(),
                        test_end.date()))
        test_start = test_start + test
    if not out:
        raise ConfigError("command line", "--walk-forward",
                          f"'{spec}' leaves no test window in the data {first}..{last}",
                          "shorten the train span or widen --start/--end")
    return out
