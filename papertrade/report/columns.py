"""Fitting a text table to a terminal's width: drop the least useful columns, then wrap whole
cells inside their columns (never a row across the screen).

Laid out by hand, not with a rich ``Table``: ``runs list`` prints hundreds of rows, and a rich
table measures every cell (~0.9 s for 500 rows).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

GAP: Final = 2
_BREAKS: Final = re.compile(r"(?<=[-\s/,→])")
_SPACES: Final = re.compile(r"(?<=\s)")


@dataclass(frozen=True)
class Column:
    """A column: its title, how much it matters (least is dropped first), the narrowest it
    may wrap to (``0``: never wraps), and whether it is right-aligned (numbers)."""

    title: str
    priority: int
    wrap_to: int = 0
    right: bool = False


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``: broken at spaces if that is enough, else also
    after ``-``, ``/``, ``,`` or ``→``, else hard (a date range keeps its dates whole)."""
    if len(text) <= width:
        return [text]
    if all(len(word) <= width for word in text.split()):
        return _wrap(text, width, _SPACES)
    return _wrap(text, width, _BREAKS)


def _wrap(text: str, width: int, breaks: re.Pattern[str]) -> list[str]:
    lines: list[str] = []
    line = ""
    for piece in (p for p in breaks.split(text) if p):
        if len(line) + len(piece.rstrip()) <= width:
            line += piece
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = piece.lstrip()
        while len(line.rstrip()) > width:  # a piece longer than the column: cut it hard
            lines.append(line[:width])
            line = line[width:]
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def fit(columns: Sequence[Column], rows: Sequence[Sequence[str]],
        width: int | None) -> tuple[list[int], list[int]]:
    """(indices of the columns kept, their widths) so a row fits in ``width`` characters
    (``None``: no limit, natural widths)."""
    natural = [max([len(c.title)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    narrowest = [min(n, c.wrap_to) if c.wrap_to else n for n, c in zip(natural, columns,
                                                                       strict=True)]
    kept = list(range(len(columns)))

    def total(widths: Sequence[int]) -> int:
        return sum(widths[i] for i in kept) + GAP * (len(kept) - 1)

    if width is None:
        return kept, [natural[i] for i in kept]
    by_value = sorted(kept, key=lambda i: columns[i].priority)
    while len(kept) > 1 and total(narrowest) > width:
        kept.remove(by_value.pop(0))
    widths = list(natural)
    excess = total(widths) - width
    while excess > 0:  # narrow the widest column that may still wrap, one character a time
        shrinkable = [i for i in kept if widths[i] > narrowest[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return kept, [widths[i] for i in kept]


def layout(columns: Sequence[Column], rows: Sequence[Sequence[str]],
           width: int | None) -> tuple[list[int], list[int], list[list[list[str]]]]:
    """(kept column indices, widths, each row's cells as lines) for ``rows`` (title row
    first). A column narrower once wrapped than its share gives the rest to the others."""
    kept, widths = fit(columns, rows, width)
    table = [[c.title for c in columns], *rows]

    def wrapped(widths: Sequence[int]) -> list[list[list[str]]]:
        return [[wrap(row[i], w) for i, w in zip(kept, widths, strict=True)] for row in table]

    cells = wrapped(widths)
    if width is not None:
        used = [max(len(line) for row in cells for line in row[n]) for n in range(len(kept))]
        spare = width - sum(used) - GAP * (len(kept) - 1)
        for n in sorted(range(len(kept)), key=lambda n: -columns[kept[n]].priority):
            extra = max(len(row[kept[n]]) for row in table) - used[n]
            if 0 < extra <= spare:  # only where it saves the wrapping altogether
                used[n] += extra
                spare -= extra
        if used != widths:
            widths, cells = used, wrapped(used)
    return kept, widths, cells
