"""Daily bars: the frame convention, CSV reading, and when each bar became available.

A *bars frame* has a naive daily ``DatetimeIndex`` named ``date`` (the bar's label: the UTC
day for crypto, the session date for US equities) and float columns
``open, high, low, close, volume``. The time a bar became *available* depends on its
calendar:

- ``us_equity``: the session close, 16:00 America/New_York, converted to UTC (DST-aware);
- ``crypto``: the end of the UTC day, i.e. 00:00 UTC of the next day.

**Timestamps are read in the symbol's own market time** (``crypto``: UTC; ``us_equity``:
America/New_York) before availability is stamped. Dates are ISO 8601:

- a plain date (``2020-09-01``) or a naive date-time (``2020-09-01 16:00``) is market time
  already: the bar's label is its date;
- a date-time with an offset (``2020-09-01T00:00:00-04:00``, ``...Z``) is converted to market
  time; its label is the market date, which must be the date as written. An offset that moves
  the bar to another day (``2020-09-01T00:00:00+05:00`` is 2020-08-31 15:00 in New York, and
  19:00 UTC) is a :class:`~papertrade.errors.DataError` naming the row, never a silent relabel
  (it would shift every bar by a day: look-ahead). Write such files with plain dates.

Text that is not an ISO 8601 date (``09/01/2020``, ``2020-02-30``, a year beyond 9999, a word)
is a one-line :class:`~papertrade.errors.DataError` naming the file and the first bad row; so
is a price or volume cell that is not a number. Rows may mix plain dates and offsets, as long
as each one names its market date.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from papertrade.errors import DataError
from papertrade.util.text import one_line

COLUMNS = ("open", "high", "low", "close", "volume")
Calendar = Literal["crypto", "us_equity"]

_NEW_YORK = "America/New_York"
_US_CLOSE = pd.Timedelta(hours=16)
MARKET_TIMEZONE: dict[str, str] = {"crypto": "UTC", "us_equity": _NEW_YORK}
"""The time zone in which each calendar's timestamps are read (see the module docstring)."""

# An ISO date-time followed by an offset: the wall-clock part and the offset.
_WITH_OFFSET = re.compile(
    r"^(?P<wall>\d{4}-?\d{2}-?\d{2}[Tt ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?)"
    r"\s*(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)$"
)
_WRITE_DATES = "write dates as YYYY-MM-DD"
_REPEATED = re.compile(r"^(date|open|high|low|close|volume)\.\d+$")


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


def read_ohlcv_csv(
    path: Path | str, origin: str | None = None, calendar: Calendar | None = None
) -> pd.DataFrame:
    """Read a ``date,open,high,low,close,volume`` CSV into a bars frame.

    Dates are read in ``calendar``'s market time (see the module docstring; ``None``: UTC).
    Raises :class:`DataError` naming the file when it is unreadable, lacks columns or holds a
    date that is not one.
    """
    where = origin or str(path)
    try:
        # dates stay text: a column of 20200901 must not become integers (nanoseconds)
        frame = pd.read_csv(path, dtype={"date": "string", "Date": "string", "DATE": "string"})
    except FileNotFoundError:
        raise DataError(f"{where}: file not found") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        reason = one_line(str(exc), 120)
        raise DataError(
            f"{where}: cannot parse CSV ({reason}); write a comma-separated UTF-8 file with "
            "the header date,open,high,low,close,volume"
        ) from None
    return normalise_frame(frame, where, calendar)


def normalise_frame(
    frame: pd.DataFrame, where: str, calendar: Calendar | None = None
) -> pd.DataFrame:
    """Coerce a raw OHLCV table (with a ``date`` column or index) to the bars convention.

    ``calendar`` chooses the market time zone dates are read in (``None``: UTC). A price or
    volume cell that is text is an error naming it; an empty cell becomes NaN (the checks of
    :mod:`papertrade.data.validate` decide what NaN may stand for).
    """
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    if "date" not in frame.columns and frame.index.name is not None:
        frame = frame.reset_index().rename(columns={frame.index.name: "date"})
        frame = frame.rename(columns=lambda c: str(c).strip().lower())
    missing = [c for c in ("date", *COLUMNS) if c not in frame.columns]
    if missing:
        shown = one_line(", ".join(str(c) for c in frame.columns), 80)
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)} (found: {shown}); "
            "expected date,open,high,low,close,volume"
        )
    # read_csv renames a repeated header "close" to "close.1": which one holds the closes?
    renamed = [c for c in frame.columns
               if (m := _REPEATED.match(str(c))) and m.group(1) in frame.columns]
    if frame.columns.duplicated().any() or renamed:
        twice = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]}
                       | {str(c).split(".")[0] for c in renamed})
        raise DataError(f"{where}: column(s) {one_line(', '.join(twice), 80)} appear twice; "
                        "keep one of each")
    labels = bar_labels(frame["date"], where, calendar)
    out = pd.DataFrame({c: _numbers(frame[c], c, labels, where) for c in COLUMNS})
    out.index = pd.DatetimeIndex(labels, name="date")
    return out


def _numbers(column: pd.Series, name: str, labels: pd.DatetimeIndex, where: str) -> pd.Series:
    """A column as float64; text that is not a number is an error naming the first cell."""
    values = pd.to_numeric(column, errors="coerce").astype("float64")
    if column.dtype.kind in "fiub":
        return values.reset_index(drop=True)
    given = column.astype("string").str.strip().fillna("")
    bad = values.isna().to_numpy(dtype=bool) & (given != "").to_numpy(dtype=bool)
    if bad.any():
        i = int(bad.argmax())
        when = _label(labels, i)
        raise DataError(
            f"{where}: {name} {one_line(repr(str(given.iloc[i])), 40)} on {when} is not a number; "
            "fix or remove that row, or use another source"
        )
    return values.reset_index(drop=True)


def _label(labels: pd.DatetimeIndex, i: int) -> str:
    value = labels[i]
    return f"row {i + 1}" if pd.isna(value) else f"{value:%Y-%m-%d} (row {i + 1})"


def bar_labels(values: pd.Series, where: str, calendar: Calendar | None) -> pd.DatetimeIndex:
    """The bar label (naive date) of each timestamp, read in ``calendar``'s market time.

    NaT where a date is empty (:func:`papertrade.data.validate.validate_bars` names that row).
    Raises :class:`DataError` on text that is not an ISO 8601 date or date-time and on an
    offset that would move a bar to another day in market time.
    """
    zone = MARKET_TIMEZONE[calendar] if calendar is not None else "UTC"
    values = values.reset_index(drop=True)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _market_days(pd.DatetimeIndex(values), values, np.arange(len(values)), where, zone)
    if values.dtype.kind == "M":
        return pd.DatetimeIndex(values.dt.normalize())
    if values.dtype.kind in "fiub":
        raise DataError(f"{where}: the date column holds numbers, not dates; {_WRITE_DATES}")
    text = values.astype("string").str.strip().fillna("")
    parts = text.str.extract(_WITH_OFFSET)
    has_offset = parts["tz"].notna().to_numpy(dtype=bool)
    wall_text = parts["wall"].where(has_offset, text)
    try:
        wall = pd.to_datetime(wall_text, format="ISO8601", errors="coerce")
    except (ValueError, TypeError, OverflowError):
        raise DataError(
            f"{where}: dates mix formats or time zones; {_WRITE_DATES} (one per row)"
        ) from None
    bad = wall.isna().to_numpy(dtype=bool) & (text != "").to_numpy(dtype=bool)
    if bad.any():
        i = int(bad.argmax())
        raise DataError(
            f"{where}: row {i + 1}: {one_line(repr(str(text.iloc[i])), 60)} is not an "
            f"ISO 8601 date; {_WRITE_DATES}"
        )
    if isinstance(wall.dtype, pd.DatetimeTZDtype):  # an offset style the pattern does not know
        return _market_days(pd.DatetimeIndex(wall), text, np.arange(len(text)), where, zone)
    labels = pd.DatetimeIndex(wall.dt.normalize())
    if has_offset.any():
        instants = pd.to_datetime(text[has_offset], format="ISO8601", utc=True, errors="coerce")
        # the label is the written date; it must also be the market date
        _market_days(pd.DatetimeIndex(instants), text, has_offset.nonzero()[0], where, zone,
                     written=labels[has_offset])
    return labels


def _market_days(
    stamps: pd.DatetimeIndex, shown: pd.Series, rows: np.ndarray, where: str, zone: str,
    written: pd.DatetimeIndex | None = None,
) -> pd.DatetimeIndex:
    """Market dates of tz-aware ``stamps``; an error when one is not the date as written."""
    if written is None:
        written = stamps.tz_localize(None).normalize()
    market = stamps.tz_convert(zone).tz_localize(None).normalize()
    moved = np.asarray(written != market) & ~np.asarray(pd.isna(written) | pd.isna(market))
    if moved.any():
        j = int(moved.argmax())
        row = int(rows[j])
        place = "New York" if zone == _NEW_YORK else zone
        raise DataError(
            f"{where}: row {row + 1}: {one_line(repr(str(shown.iloc[row])), 60)} is "
            f"{market[j]:%Y-%m-%d} in {place} market time, not {written[j]:%Y-%m-%d}: the "
            "offset would move the bar to another day; write the bar's own "
            f"{'session' if zone == _NEW_YORK else 'UTC'} date as YYYY-MM-DD, without an offset"
        )
    return market


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
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name too long for a file, or with a NUL byte
        found = False
    if not found:
        import difflib

        close = difflib.get_close_matches(symbol, bundled_symbols(), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise DataError(
            f"no bundled data for {one_line(repr(symbol), 60)}; {hint}bundled: "
            f"{', '.join(bundled_symbols())}"
        )
    return read_ohlcv_csv(path, origin=f"bundled {path.name}", calendar=default_calendar(symbol))


def frame_digest(frame: pd.DataFrame) -> str:
    """A short content hash of a bars frame (for manifests and run ids)."""
    payload = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    return hashlib.sha256(payload).hexdigest()[:16]
