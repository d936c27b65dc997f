"""A corpus of malformed (and merely unusual) CSV files, each backtested through the CLI.

Every file is generated into ``tmp_path`` from the real bundled bars, given to the shipped
BTC-only config as the RUT signal or the traded BTC/USDT, and run with ``papertrade backtest``
through ``papertrade.cli.main`` on a two-month window. Each must end as specified: exit 0
(with the warnings it deserves), or one bounded ``error:`` line with its documented exit code
(3: data; 2: the config's path), within 30 s, without a traceback, with no run folder left
behind on error and nothing written outside the runs directory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from csv_backtest import btc_only_config, raw_rows, run_folders

from tests.cli_harness import assert_clean_outcome, run_cli, tree

HEADER = "date,open,high,low,close,volume"
START, END = "2024-01-01", "2024-02-29"
TOMORROW = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()


def rows(symbol: str) -> list[str]:
    """The base file's data lines: RUT from mid-2023, BTC from December 2023, to March 2024."""
    frame = raw_rows(symbol, "2023-06-01" if symbol == "RUT" else "2023-12-01", "2024-03-31")
    return [",".join(values) for values in frame.astype(str).itertuples(index=False)]


def text(symbol: str, body: list[str] | None = None, header: str = HEADER) -> bytes:
    return ("\n".join([header, *(rows(symbol) if body is None else body)]) + "\n").encode()


def edit(symbol: str, date: str, column: str, value: str) -> bytes:
    """The base file with one cell replaced."""
    index = HEADER.split(",").index(column)
    out = []
    for line in rows(symbol):
        cells = line.split(",")
        if cells[0] == date:
            cells[index] = value
        out.append(",".join(cells))
    return text(symbol, out)


def redate(symbol: str, change: Callable[[str], str]) -> bytes:
    return text(symbol, [change(line[:10]) + line[10:] for line in rows(symbol)])


def new_york_midnight(day: str) -> str:
    """``2024-01-02T00:00:00-05:00``: the session's date at midnight in New York (DST-aware)."""
    return pd.Timestamp(day).tz_localize("America/New_York").isoformat()


def without(symbol: str, first: str, last: str) -> bytes:
    return text(symbol, [line for line in rows(symbol) if not first <= line[:10] <= last])


Builder = Callable[[str], bytes]
OK, DATA, CONFIG = 0, 3, 2
# id, symbol ("RUT", "BTC/USDT" or "both"), builder, expected exit code, fragment of the
# error line (or, for exit 0, of stderr; "" when stderr must be silent)
CASES: list[tuple[str, str, Builder, int, str]] = [
    # --- structure
    ("empty-file", "RUT", lambda s: b"", DATA, "cannot parse CSV (No columns to parse"),
    ("header-only", "BTC/USDT", lambda s: text(s, []), DATA, "no bars"),
    ("whitespace-only", "RUT", lambda s: b" \n\n  \n", DATA, "cannot parse CSV"),
    ("missing-close", "RUT", lambda s: text(s, [r.rsplit(",", 2)[0] + "," + r.rsplit(",", 1)[1]
                                                for r in rows(s)],
                                             header="date,open,high,low,volume"),
     DATA, "missing column(s) close"),
    ("no-header", "BTC/USDT", lambda s: "\n".join(rows(s)).encode(), DATA, "missing column(s)"),
    ("semicolons", "RUT", lambda s: text(s, [r.replace(",", ";") for r in rows(s)],
                                         header=HEADER.replace(",", ";")),
     DATA, "missing column(s) date, open, high, low, close, volume (found: date;open;"),
    ("tabs", "BTC/USDT", lambda s: text(s, [r.replace(",", "\t") for r in rows(s)],
                                        header=HEADER.replace(",", "\t")),
     DATA, "missing column(s)"),
    ("extra-fields", "RUT", lambda s: text(s, [*rows(s)[:5], rows(s)[5] + ",1,2",
                                               *rows(s)[6:]]),
     DATA, "cannot parse CSV (Error tokenizing data"),
    ("short-row", "BTC/USDT", lambda s: text(s, [*rows(s)[:40], rows(s)[40].rsplit(",", 2)[0],
                                                 *rows(s)[41:]]),
     DATA, "NaN close on 2024-01-10"),
    ("binary-garbage", "RUT", lambda s: bytes(range(256)) * 40, DATA, "cannot parse CSV"),
    ("utf16", "BTC/USDT", lambda s: text(s).decode().encode("utf-16"), DATA, "cannot parse CSV"),
    ("nul-bytes", "RUT", lambda s: text(s).replace(b"\n2024-01-1", b"\n\x00\x00"), DATA,
     "is not an ISO 8601 date"),
    ("header-repeated", "BTC/USDT", lambda s: text(s, [*rows(s)[:50], HEADER, *rows(s)[50:]]),
     DATA, "row 51: 'date' is not an ISO 8601 date"),
    ("duplicate-columns", "RUT", lambda s: text(s, [r + "," + r.split(",")[4] for r in rows(s)],
                                                header=HEADER + ",close"),
     DATA, "column(s) close appear twice"),
    ("quoted-newline", "BTC/USDT", lambda s: text(s, [*rows(s)[:3], '"2023-12-04\nx",1,1,1,1,1',
                                                      *rows(s)[4:]]),
     DATA, "row 4: '2023-12-04\\nx' is not an ISO 8601 date"),
    ("huge-cell", "RUT", lambda s: edit(s, "2024-01-10", "close", "9" * 100_000 + "x"), DATA,
     "is not a number"),
    ("huge-date", "BTC/USDT", lambda s: text(s, ["x" * 100_000 + ",1,1,1,1,1", *rows(s)]),
     DATA, "row 1: 'xxxxxxxx"),
    ("huge-header", "RUT", lambda s: text(s, header="h" * 100_000), DATA, "missing column(s)"),
    # --- unusual but fine
    ("bom", "BTC/USDT", lambda s: b"\xef\xbb\xbf" + text(s), OK, ""),
    ("capitalised-header", "RUT", lambda s: text(s, header="Date,Open,High,Low,Close,Volume"),
     OK, ""),
    ("spaced-header", "BTC/USDT", lambda s: text(s, header=" date , open,high,low,close,volume"),
     OK, ""),
    ("extra-columns", "RUT", lambda s: text(s, [r + ",x" for r in rows(s)],
                                            header=HEADER + ",adj close"), OK, ""),
    ("crlf", "BTC/USDT", lambda s: text(s).replace(b"\n", b"\r\n"), OK, ""),
    ("trailing-blank-lines", "RUT", lambda s: text(s) + b"\n\n\n", OK, ""),
    ("basic-iso-dates", "BTC/USDT", lambda s: redate(s, lambda d: d.replace("-", "")), OK, ""),
    ("utc-z-crypto", "BTC/USDT", lambda s: redate(s, lambda d: d + "T00:00:00.000Z"), OK, ""),
    ("naive-close-time", "RUT", lambda s: redate(s, lambda d: d + " 16:00:00"), OK, ""),
    ("new-york-midnight", "RUT", lambda s: redate(s, new_york_midnight), OK, ""),
    ("scientific-prices", "BTC/USDT",
     lambda s: text(s, [",".join([r.split(",")[0], *(f"{float(v):.6e}" for v in
                                                      r.split(",")[1:5]), r.split(",")[5]])
                        for r in rows(s)]), OK, ""),
    ("nan-volume", "RUT", lambda s: edit(s, "2024-01-10", "volume", ""), OK, ""),
    ("huge-volume", "BTC/USDT", lambda s: edit(s, "2024-01-10", "volume", "1e30"), OK, ""),
    ("tomorrow-row", "BTC/USDT",
     lambda s: text(s, [*rows(s), TOMORROW + "," + rows(s)[-1].split(",", 1)[1]]), OK,
     "WARNING BTC/USDT: "),
    # --- dates
    ("us-dates", "RUT", lambda s: redate(s, lambda d: f"{d[5:7]}/{d[8:]}/{d[:4]}"), DATA,
     "row 1: '06/01/2023' is not an ISO 8601 date"),
    ("month-13", "BTC/USDT", lambda s: text(s, [*rows(s), "2024-13-01,1,1,1,1,1"]), DATA,
     "'2024-13-01' is not an ISO 8601 date"),
    ("feb-30", "RUT", lambda s: text(s, [*rows(s), "2024-02-30,1,1,1,1,1"]), DATA,
     "'2024-02-30' is not an ISO 8601 date"),
    ("empty-date", "BTC/USDT", lambda s: text(s, [*rows(s)[:9], ",1,1,1,1,1", *rows(s)[9:]]),
     DATA, "missing date (row 10, after 2023-12-09)"),
    ("plus-five-offset", "RUT", lambda s: redate(s, lambda d: d + "T00:00:00+05:00"), DATA,
     "is 2023-05-31 in New York market time, not 2023-06-01"),
    ("utc-midnight-index", "RUT", lambda s: redate(s, lambda d: d + "T00:00:00Z"), DATA,
     "in New York market time"),
    ("plus-five-crypto", "BTC/USDT", lambda s: redate(s, lambda d: d + "T00:00:00+05:00"), DATA,
     "is 2023-11-30 in UTC market time, not 2023-12-01"),
    ("mixed-offset-styles", "RUT",
     lambda s: redate(s, lambda d: d + ("T12:00:00+00:00" if d.endswith("5") else "")), OK, ""),
    ("mixed-offsets-moving", "RUT",
     lambda s: redate(s, lambda d: d + ("T02:00:00+00:00" if d.endswith("5") else "")), DATA,
     "row 3: '2023-06-05T02:00:00+00:00' is 2023-06-04 in New York market time"),
    ("year-2300", "BTC/USDT", lambda s: text(s, [*rows(s), "2300-01-01,1,1,1,1,1"]), DATA,
     "date 2300-01-01 (row 123) is in the future"),
    ("year-10000", "RUT", lambda s: text(s, [*rows(s), "10000-01-01,1,1,1,1,1"]), DATA,
     "'10000-01-01' is not an ISO 8601 date"),
    ("year-1850", "BTC/USDT", lambda s: text(s, ["1850-01-01,1,1,1,1,1", *rows(s)]), DATA,
     "date 1850-01-01 (row 1) is before 1900-01-01"),
    ("runs-to-2262", "BTC/USDT",
     lambda s: text(s, [*rows(s), *(f"{dt.date(2024, 4, 1) + dt.timedelta(days=i)},1,1,1,1,1"
                                    for i in range(86_000))]),
     DATA, "is in the future"),
    ("reversed", "RUT", lambda s: text(s, rows(s)[::-1]), DATA, "dates are not sorted ascending"),
    ("swapped-rows", "BTC/USDT", lambda s: text(s, [*rows(s)[:20], rows(s)[21], rows(s)[20],
                                                    *rows(s)[22:]]),
     DATA, "2023-12-21 comes after 2023-12-22"),
    ("duplicate-date", "RUT", lambda s: text(s, [*rows(s)[:30], *rows(s)[29:]]), DATA,
     "duplicate date"),
    # --- values
    ("inf-close", "RUT", lambda s: edit(s, "2024-01-10", "close", "inf"), DATA,
     "close inf on 2024-01-10 is not finite"),
    ("minus-inf-low", "BTC/USDT", lambda s: edit(s, "2024-01-10", "low", "-inf"), DATA,
     "low -inf on 2024-01-10 is not finite"),
    ("nan-text-close", "RUT", lambda s: edit(s, "2024-01-10", "close", "nan"), DATA,
     "NaN close on 2024-01-10"),
    ("empty-close", "BTC/USDT", lambda s: edit(s, "2024-01-10", "close", ""), DATA,
     "NaN close on 2024-01-10"),
    ("all-prices-empty", "RUT", lambda s: text(s, [*rows(s)[:10], "2023-06-15,,,,,",
                                                   *rows(s)[11:]]),
     DATA, "NaN open/high/low/close on 2023-06-15"),
    ("text-price", "BTC/USDT", lambda s: edit(s, "2024-01-10", "open", "tbd"), DATA,
     "open 'tbd' on 2024-01-10"),
    ("na-text-price", "RUT", lambda s: edit(s, "2024-01-10", "open", "n/a"), DATA,
     "NaN open on 2024-01-10"),
    ("thousands-separator", "RUT", lambda s: edit(s, "2024-01-10", "close", '"1,234.5"'), DATA,
     "close '1,234.5' on 2024-01-10"),
    ("currency-sign", "BTC/USDT", lambda s: edit(s, "2024-01-10", "high", "$47000"), DATA,
     "high '$47000' on 2024-01-10"),
    ("close-1e308", "RUT", lambda s: edit(s, "2024-01-10", "close", "1e308"), DATA,
     "close 1e+308 on 2024-01-10 is outside [1e-12, 1e+12]"),
    ("close-above-1e12", "BTC/USDT", lambda s: edit(s, "2024-01-10", "close", "2e12"), DATA,
     "close 2e+12 on 2024-01-10 is outside"),
    ("close-denormal", "RUT", lambda s: edit(s, "2024-01-10", "close", "5e-324"), DATA,
     "is outside [1e-12, 1e+12]"),
    ("zero-close", "BTC/USDT", lambda s: edit(s, "2024-01-10", "close", "0"), DATA,
     "close 0 on 2024-01-10: prices must be positive"),
    ("negative-close", "RUT", lambda s: edit(s, "2024-01-10", "close", "-5"), DATA,
     "negative close -5 on 2024-01-10"),
    ("high-below-close", "BTC/USDT", lambda s: edit(s, "2024-01-10", "high", "1"), DATA,
     "high 1 is below max(open, close)"),
    ("low-above-open", "RUT", lambda s: edit(s, "2024-01-10", "low", "99999"), DATA,
     "low 99999 is above min(open, close)"),
    ("negative-volume", "BTC/USDT", lambda s: edit(s, "2024-01-10", "volume", "-1"), DATA,
     "negative volume -1 on 2024-01-10"),
    ("inf-volume", "RUT", lambda s: edit(s, "2024-01-10", "volume", "inf"), DATA,
     "volume inf on 2024-01-10 is not finite"),
    # --- coverage in time
    ("single-row-signal", "RUT", lambda s: text(s, rows(s)[:1]), OK,
     "WARNING RUT: no bar newer than 7 days"),
    ("two-rows-2020", "RUT", lambda s: text(s, [r for r in (",".join(v) for v in raw_rows(
        "RUT", "2020-01-02", "2020-01-03").astype(str).itertuples(index=False))]), OK,
     "WARNING RUT: no bar newer than 7 days at 60 decision(s) 2024-01-02..2024-03-01 "
     "(last bar 2020-01-03)"),
    ("signal-after-window", "RUT", lambda s: text(s, [r for r in rows(s) if r >= "2024-03"]),
     OK, "WARNING RUT: no bar until after the last decision (first bar 2024-03-01): missing "
     "at all 60 decision(s) 2024-01-02..2024-03-01"),
    ("signal-starts-mid-window", "RUT", lambda s: text(s, [r for r in rows(s) if r >= "2024-02"]),
     OK, "WARNING RUT: no bar before 2024-02-01 21:00 UTC: missing at 31 decision(s) "
     "2024-01-02..2024-02-01"),
    ("two-month-gap", "RUT", lambda s: without(s, "2023-11-01", "2023-12-31"), OK,
     "no bars for 62 calendar days 2023-11-01..2024-01-01"),
    ("crypto-gap-3-days", "BTC/USDT", lambda s: without(s, "2024-01-10", "2024-01-12"), OK,
     "no bars for 3 calendar days 2024-01-10..2024-01-12"),
    ("crypto-gap-1-day", "BTC/USDT", lambda s: without(s, "2024-01-10", "2024-01-10"), OK, ""),
    ("traded-outside-window", "BTC/USDT", lambda s: text(s, [r for r in rows(s) if r < "2024"]),
     CONFIG, "data.start: no bars of the traded symbols in 2024-01-01..2024-02-29"),
    ("single-row-traded", "BTC/USDT", lambda s: text(s, [r for r in rows(s)
                                                         if r.startswith("2024-01-15")]), OK,
     ""),
]


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)
    assert {c[3] for c in CASES} == {OK, DATA, CONFIG}


@pytest.mark.parametrize(("symbol", "build", "code", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_csv_ends_as_specified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    symbol: str, build: Builder, code: int, fragment: str,
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    path = tmp_path / "bars.csv"
    path.write_bytes(build(symbol))
    config = btc_only_config(tmp_path, csv={symbol: path}, start=START, end=END)
    before = tree(tmp_path, skip=tmp_path / "runs")
    result = run_cli(["backtest", str(config), "--no-report"], capsys)
    assert_clean_outcome(result)
    assert result.code == code, result.err[-3000:]
    assert tree(tmp_path, skip=tmp_path / "runs") == before
    if code == OK:
        (run,) = run_folders(tmp_path)
        assert (run / "metrics.json").is_file()
        if fragment:
            assert fragment in result.err, result.err
        else:
            assert result.err == "", result.err
        return
    assert run_folders(tmp_path) == []
    line = result.error_lines[0]
    assert str(path) in line or code == CONFIG, line
    assert fragment in line, line
