"""A stand-in for Yahoo's servers behind yfinance, serving the real bundled bars."""

from __future__ import annotations

import datetime as dt

import pandas as pd


class YahooFake:
    """Stands in for Yahoo's servers behind yfinance: the ``fetch(ticker, start, end)`` hook.

    Serves the real bundled bars of one ticker shaped like yfinance output (capitalised columns,
    ``Adj Close``, tz-aware ``America/New_York`` index named ``Date``), rows dated within
    ``[start, end]``. The bar dated ``today`` is an intraday snapshot (open = high = low =
    close, volume 0), as Yahoo serves it before the close. Records every call.
    """

    def __init__(self, ticker: str, frame: pd.DataFrame, today: dt.date) -> None:
        self.ticker = ticker
        self.frame = frame
        self.today = today
        self.calls: list[tuple[str, dt.date | None, dt.date | None]] = []
        self.error: Exception | None = None

    def __call__(self, ticker: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        self.calls.append((ticker, start, end))
        if self.error is not None:
            raise self.error
        if ticker != self.ticker:
            return pd.DataFrame()
        last = min(end or self.today, self.today)
        rows = self.frame.loc[pd.Timestamp(start) if start else None : pd.Timestamp(last)].copy()
        today = pd.Timestamp(self.today)
        if today in rows.index:
            snapshot = float(rows["open"].loc[today])
            for column in ("high", "low", "close"):
                rows.at[today, column] = snapshot
            rows.at[today, "volume"] = 0.0
        shaped = pd.DataFrame(
            {
                "Open": rows["open"], "High": rows["high"], "Low": rows["low"],
                "Close": rows["close"], "Adj Close": rows["close"], "Volume": rows["volume"],
            }
        )
        shaped.index = pd.DatetimeIndex(rows.index).tz_localize("America/New_York")
        shaped.index.name = "Date"
        return shaped


def offline_curl_error() -> Exception:
    """The exception yfinance raises when the machine has no network (what curl_cffi says)."""
    from curl_cffi.requests.exceptions import DNSError

    return DNSError(
        "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com. "
        "See https://curl.se/libcurl/c/libcurl-errors.html first for more details."
    )
