"""Paths as configs write them."""

from __future__ import annotations

from pathlib import Path


def resolve_path(path: Path, base: Path) -> Path:
    """A config-relative path: absolute as is, else the working directory, else the config's."""
    expanded = path.expanduser()
    if expanded.is_absolute() or expanded.exists():
        return expanded
    return base / expanded
