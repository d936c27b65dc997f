"""Readable ``--help`` for every papertrade command: click-style metavars.

Recent typer writes a required argument as ``{config}`` in the usage line and each value's
Python type as ``<list[str]>``, ``<path>`` or ``<str>``. :func:`use_readable_help` swaps the help
formatter (click's documented ``Command.context_class`` / ``Context.formatter_class`` extension
points) for one that writes ``CONFIG``, ``TEXT``, ``PATH``, ``[a|b]``: what click, argparse and
freqtrade users read. A metavar set on an option (``KEY=VALUE``, ``DATE``) is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

import typer
from typer.core import TyperCommand, TyperGroup

_TYPES: Final = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH",
                 "file": "FILE", "directory": "DIR", "datetime": "DATETIME", "bool": "",
                 "int range": "INTEGER RANGE", "float range": "FLOAT RANGE"}
_TYPE_TOKEN: Final = re.compile(r"\s*<([^<>]+)>(\.\.\.)?$")
_REQUIRED: Final = re.compile(r"\{([^{}]+)\}")


def readable_type(label: str) -> str:
    """``list[str]`` -> ``TEXT``, ``path`` -> ``PATH``, ``a|b`` -> ``[a|b]``."""
    inner = label.strip()
    while inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    if "|" in inner:
        return f"[{inner}]"
    return _TYPES.get(inner.lower(), inner.upper())


def readable_term(term: str, argument: bool = False) -> str:
    """A help row's left cell: an option's type token made readable; an ``argument``'s name
    only, upper-cased (its type is in its help); anything else (a command) as it is."""
    if argument:
        return _TYPE_TOKEN.sub("", term).upper()
    if not term.startswith("-"):
        return term
    parts = [
        _TYPE_TOKEN.sub(lambda m: (" " + readable_type(m.group(1))).rstrip()
                        + (m.group(2) or ""), part)
        for part in term.split(" / ")
    ]
    return " / ".join(parts)


_Formatter = typer.Context.formatter_class  # click's, vendored or not depending on typer


class ReadableFormatter(_Formatter):  # type: ignore[misc,valid-type]
    """A help formatter that rewrites typer's ``{arg}`` and ``<type>`` as click would."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        """The usage line with required arguments as ``NAME``."""
        super().write_usage(prog, _REQUIRED.sub(lambda m: m.group(1).upper(), args), prefix)

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """A help section (remembered: the rows of ``Arguments`` are named differently)."""
        previous, self._section = getattr(self, "_section", ""), name
        try:
            with super().section(name):
                yield
        finally:
            self._section = previous

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30,
                 col_spacing: int = 2) -> None:
        """Definition rows with readable metavars."""
        argument = getattr(self, "_section", "") == "Arguments"
        super().write_dl([(readable_term(term, argument), text) for term, text in rows],
                         col_max, col_spacing)


class ReadableContext(typer.Context):
    """The context of papertrade's commands: its help is written by :class:`ReadableFormatter`."""

    formatter_class = ReadableFormatter


def use_readable_help() -> None:
    """Make every typer command of this process write readable help (idempotent)."""
    TyperCommand.context_class = ReadableContext
    TyperGroup.context_class = ReadableContext
