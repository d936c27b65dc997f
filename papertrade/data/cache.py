"""On-disk cache of downloaded bars.

Layout: ``<cache_dir>/<source>/<namespace>/<safe name>-<timeframe>.csv`` holds the bars in the
bundled files' format (``date,open,high,low,close,volume``, so a cached file can also be used as a
``csv`` source), and a sidecar ``...-<timeframe>.json`` records which range the source was asked
for: ``covers_from`` (``null``: from the source's first bar) and ``checked_through`` (the last day
known complete). Both files are written atomically (temporary file + :func:`os.replace`), so a
crash or a concurrent reader never sees half a file.

A cache that cannot be read is treated as absent (with a warning): it is rebuilt by the next
download. The module also holds the small helpers both downloaders share (error reasons, the
"use the bundled data" hint).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from loguru import logger

from papertrade.data.bars import COLUMNS, bundled_file, normalise_frame
from papertrade.errors import DataError

FORMAT_VERSION = 1
_PANDAS_MAJOR = int(pd.__version__.split(".", 1)[0])

_UNSAFE = re.compile(r"[^A-Za-z0-9._^=-]")


@dataclass(frozen=True)
class CachedBars:
    """Bars read from the cache, with the range the source was asked for."""

    frame: pd.DataFrame
    covers_from: dt.date | None
    checked_through: dt.date | None
    path: Path

    def covers(self, start: dt.date | None, end: dt.date) -> bool:
        """Whether the source was already asked for every day of ``[start, end]``."""
        if self.checked_through is None or self.checked_through < end:
            return False
        if self.covers_from is None:
            return True
        return start is not None and start >= self.covers_from

    @property
    def last_date(self) -> dt.date:
        """The date of the last cached bar."""
        date: dt.date = pd.Timestamp(self.frame.index[-1]).date()
        return date


def safe_name(name: str) -> str:
    """A file-name-safe, readable spelling: ``BTC/USDT`` -> ``BTC-USDT``, ``^RUT`` stays.

    ``/`` becomes ``-``, ``:`` becomes ``_``; any other character outside ``[A-Za-z0-9._^=-]``
    is percent-encoded, and a leading dot is encoded so that no name is hidden or ``..``.
    """
    if not name:
        raise DataError("cache: empty name; give the ticker or market to cache")
    text = name.replace("/", "-").replace(":", "_")
    text = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)
    if text.startswith("."):
        text = "%2E" + text[1:]
    return text


def cache_path(cache_dir: Path, *, source: str, namespace: str, name: str, timeframe: str) -> Path:
    """Where the bars of ``name`` are cached (``~`` in ``cache_dir`` is expanded)."""
    return (
        Path(cache_dir).expanduser() / safe_name(source) / safe_name(namespace)
        / f"{safe_name(name)}-{safe_name(timeframe)}.csv"
    )


def read_cached(
    cache_dir: Path, *, source: str, namespace: str, name: str, timeframe: str
) -> CachedBars | None:
    """The cached bars of ``name``, or ``None`` when there are none or they are unreadable."""
    path = cache_path(cache_dir, source=source, namespace=namespace, name=name,
                      timeframe=timeframe)
    if not path.is_file():
        return None
    try:
        if _PANDAS_MAJOR < 3:  # pandas >= 3 parses floats round-trip exactly by default
            raw = pd.read_csv(path, float_precision="round_trip")
        else:
            raw = pd.read_csv(path)
        frame = normalise_frame(raw, f"cache {path}")
        if frame.empty or frame.index.hasnans:
            raise DataError(f"cache {path}: no usable rows")
        if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
            raise DataError(f"cache {path}: dates not sorted and unique")
    except (OSError, ValueError, pd.errors.ParserError, DataError) as exc:
        logger.warning("ignoring unreadable cache file {} ({}); it will be downloaded again",
                       path, exc)
        return None
    covers_from, checked_through = _read_meta(path.with_suffix(".json"), frame)
    return CachedBars(frame, covers_from, checked_through, path)


def _read_meta(path: Path, frame: pd.DataFrame) -> tuple[dt.date | None, dt.date | None]:
    """The sidecar's range; falls back to the cached bars' own range when it is unusable."""
    first = pd.Timestamp(frame.index[0]).date()
    last = pd.Timestamp(frame.index[-1]).date()
    try:
        meta: Any = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("rows") != len(frame) or meta.get("last") != last.isoformat():
            raise ValueError("sidecar does not describe the CSV")
        covers = meta["covers_from"]
        covers_from = None if covers is None else dt.date.fromisoformat(covers)
        checked_through = dt.date.fromisoformat(meta["checked_through"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return first, last
    return covers_from, max(checked_through, last)


def write_cached(
    cache_dir: Path,
    *,
    source: str,
    namespace: str,
    name: str,
    timeframe: str,
    frame: pd.DataFrame,
    covers_from: dt.date | None,
    checked_through: dt.date,
    symbol: str | None = None,
) -> Path:
    """Atomically replace the cached bars of ``name`` with ``frame`` and record its range.

    ``covers_from`` is the first day the source was asked for (``None``: from its first bar);
    ``checked_through`` the last day known complete; ``symbol`` the config key the bars were
    downloaded for (``papertrade data list`` and ``source: cache`` find them by it). Returns the
    CSV's path.
    """
    path = cache_path(cache_dir, source=source, namespace=namespace, name=name,
                      timeframe=timeframe)
    if frame.empty:
        raise DataError(f"cache {path}: refusing to cache an empty frame")
    out = frame.loc[:, list(COLUMNS)].copy()
    out.index = pd.DatetimeIndex(out.index).strftime("%Y-%m-%d")
    out.index.name = "date"
    meta = {
        "format": FORMAT_VERSION,
        "source": source,
        "namespace": namespace,
        "name": name,
        "symbol": symbol or name,
        "timeframe": timeframe,
        "covers_from": None if covers_from is None else covers_from.isoformat(),
        "checked_through": checked_through.isoformat(),
        "rows": len(out),
        "first": str(out.index[0]),
        "last": str(out.index[-1]),
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, out.to_csv(lineterminator="\n"))
        _atomic_write(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    except OSError as exc:
        raise DataError(
            f"cannot write the data cache {path} ({exc.strerror or exc}); "
            "check that data.cache_dir is writable or point it elsewhere"
        ) from None
    return path


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def merge_bars(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """Cached bars updated with newly downloaded ones.

    A new row replaces an old row of the same date (the last of duplicated new rows wins);
    the result is sorted by date with unique dates, in the bars frame convention.
    """
    fresh = new.loc[~new.index.duplicated(keep="last"), list(COLUMNS)]
    if old is None or old.empty:
        merged = fresh
    else:
        kept = old.loc[~old.index.isin(fresh.index), list(COLUMNS)]
        kept = kept.loc[~kept.index.duplicated(keep="last")]
        merged = pd.concat([kept, fresh]) if not kept.empty else fresh
    merged = merged.sort_index(kind="stable").astype("float64")
    merged.index = pd.DatetimeIndex(merged.index, name="date")
    return merged


def slice_bars(frame: pd.DataFrame, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """The rows of a sorted bars frame dated within ``[start, end]`` (``None``: open end)."""
    lo = pd.Timestamp(start) if start is not None else None
    hi = pd.Timestamp(end) if end is not None else None
    return frame.loc[lo:hi]


# --------------------------------------------------------------------------- download helpers

_CURL_PREFIX = re.compile(r"^Failed to perform, curl: \(\d+\)\s*")
_CURL_SUFFIX = re.compile(r"\s*See https?://\S+ first for more details\.?")
_URL_CREDENTIALS = re.compile(r"(://)[^/\s@]+@")
_SECRET_PARAM = re.compile(r"(?i)\b(signature|api_?key|apikey|secret|token|password)=[^&\s]+")


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_URL_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """One short line saying why a download failed, with credentials and signatures removed.

    When the exception wraps a socket error (``[Errno 111] Connection refused``, as ccxt's
    ``NetworkError`` does), that error is appended; URL query strings are dropped.
    """
    text = _URL_QUERY.sub(r"\1", " ".join(str(exc).split()))
    cause = exc.__cause__ or exc.__context__
    for _ in range(8):  # a bounded walk: exception chains may loop
        if cause is None:
            break
        errno = _ERRNO.search(str(cause))
        if errno:
            text = f"{text}: {errno.group(1).strip()}" if text else errno.group(1).strip()
            break
        cause = cause.__cause__ or cause.__context__
    text = _CURL_PREFIX.sub("", text)
    text = _CURL_SUFFIX.sub("", text).rstrip(" .")
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    text = _SECRET_PARAM.sub(r"\1=***", text)
    name = type(exc).__name__
    text = f"{name}: {text}" if text else name
    return text if len(text) <= limit else text[: limit - 3] + "..."


def offline_hint(symbol: str) -> str:
    """What to do when ``symbol`` cannot be downloaded: the bundled data if there are any."""
    if bundled_file(symbol).is_file():
        return (f"offline? use the bundled data instead: set data.symbols.{symbol} to "
                "{source: bundled} or remove it")
    return (f"offline? retry when online, or save the bars to a CSV and set "
            f"data.symbols.{symbol} to {{source: csv, path: ...}}")
