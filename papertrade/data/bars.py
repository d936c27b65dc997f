"""Daily bars: the frame convention, CSV reading, and when each bar became available.

A *bars frame* has a naive daily ``DatetimeIndex`` named ``date`` (the bar's label: the UTC
day for crypto, the session date for US equities) and float columns
``open, high, low, close, volume``. The time a bar became *available* depends on its
calendar:

- ``us_equity``: the session close, 16:00 America/New_York, converted to UTC (DST-aware);
- ``crypto``: the end of the UTC day, i.e. 00:00 UTC of the next day.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd

from papertrade.errors import DataError

COLUMNS = ("open", "high", "low", "close", "volume")
Calendar = Literal["crypto", "us_equity"]

_NEW_YORK = "America/New_York"
_US_CLOSE = pd.Timedelta(hours=16)


def available_at(dates: pd.DatetimeIndex, calendar: Calendar) -> pd.DatetimeIndex:
    """The UTC instant at which each daily bar labelled by ``dates`` was complete."""
    days = pd.DatetimeIndex(dates).normalize()
    if days.tz is not None:
        days = days.tz_localize(None)
    if calendar == "crypto":
        return (days + pd.Timedelta(days=1)).tz_localize("UTC")
    if calendar == "us_equity":
        return (days + _US_CLOSE).tz_localize(_NEW_YORK).tz_convert("UTC")
    raise ValueError(f"unknown calendar {calendar!r}")


def default_calendar(symbol: str) -> Calendar:
    """Pairs such as ``BTC/USDT`` trade around the clock; anything else is a US index/stock."""
    return "crypto" if "/" in symbol else "us_equity"


def read_ohlcv_csv(path: Path | str, origin: str | None = None) -> pd.DataFrame:
    """Read a ``date,open,high,low,close,volume`` CSV into a bars frame.

    Raises :class:`DataError` naming the file when it is unreadable or lacks columns.
    """
    where = origin or str(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{where}: file not found") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{where}: cannot parse CSV ({exc})") from None
    return normalise_frame(frame, where)


def normalise_frame(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Coerce a raw OHLCV table (with a ``date`` column or index) to the bars convention."""
    frame = frame.rename(columns=str.lower)
    if "date" not in frame.columns and frame.index.name is not None:
        frame = frame.reset_index().rename(columns={frame.index.name: "date"})
        frame = frame.rename(columns=str.lower)
    missing = [c for c in ("date", *COLUMNS) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; "
            "expected date,open,high,low,close,volume"
        )
    try:
        dates = pd.to_datetime(frame["date"], utc=False)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: unparseable date ({exc}); write YYYY-MM-DD") from None
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    out = frame.loc[:, list(COLUMNS)].apply(pd.to_numeric, errors="coerce").astype("float64")
    out.index = pd.DatetimeIndex(dates.dt.normalize(), name="date")
    return out


# --------------------------------------------------------------------------- bundled data


def _datasets() -> Path:
    return Path(str(resources.files("papertrade") / "datasets"))


def bundled_file(symbol: str) -> Path:
    """Path of the bundled CSV for ``symbol`` (``BTC/USDT`` -> ``BTC-USDT.csv``)."""
    return _datasets() / f"{symbol.replace('/', '-')}.csv"


def bundled_symbols() -> list[str]:
    """Every symbol shipped with papertrade, in config spelling (``BTC/USDT``, ``RUT``)."""
    names = sorted(p.stem for p in _datasets().glob("*.csv"))
    return [n.replace("-", "/") if "-" in n else n for n in names]


def read_bundled(symbol: str) -> pd.DataFrame:
    """The bundled bars of ``symbol``; :class:`DataError` with did-you-mean if unknown."""
    path = bundled_file(symbol)
    if not path.is_file():
        import difflib

        close = difflib.get_close_matches(symbol, bundled_symbols(), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise DataError(
            f"no bundled data for '{symbol}'; {hint}bundled: {', '.join(bundled_symbols())}"
        )
    return read_ohlcv_csv(path, origin=f"bundled {path.name}")


def frame_digest(frame: pd.DataFrame) -> str:
    """A short content hash of a bars frame (for manifests and run ids)."""
    payload = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    return hashlib.sha256(payload).hexdigest()[:16]
