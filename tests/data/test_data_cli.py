"""``papertrade data list/download/update``, configs reading the cache, the staleness warning.

Downloads go through a real ccxt client to the loopback Binance fake (serving the bundled
klines shifted so that the last one closed yesterday: a "fresh" market) and through the
injected Yahoo fetch; the clock is the real one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fake_binance_klines import (
    FakeBinance,
    Listing,
    binance_client_factory,
    closed_port,
    day_ms,
    listing_from_csv,
)
from fake_yahoo import YahooFake, offline_curl_error

from papertrade.data import download_ccxt, download_yfinance
from papertrade.data.bars import bundled_file, read_bundled, read_ohlcv_csv
from tests.cli_harness import assert_one_line_error, run_cli
from tests.conftest import CONFIGS

TODAY = dt.datetime.now(dt.UTC).date()
YESTERDAY = TODAY - dt.timedelta(days=1)
BUNDLED_BTC_LAST = dt.date(2026, 3, 3)


def fresh_listing(symbol: str, drop_last: int = 0) -> Listing:
    """The bundled klines of ``symbol`` moved so that the last one opened yesterday."""
    base, quote = symbol.split("/")
    bundled = listing_from_csv(bundled_file(symbol), base, quote)
    shift = day_ms(YESTERDAY) - bundled.rows[-1][0]
    rows = tuple((ms + shift, *rest) for ms, *rest in bundled.rows)
    return Listing(base, quote, rows[: len(rows) - drop_last])


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default data cache of this test (``$PAPERTRADE_CACHE_DIR``)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("PAPERTRADE_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def fresh(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBinance]:
    """Binance (loopback) listing fresh BTC/USDT and ETH/USDT; ccxt downloads go there."""
    listings = [fresh_listing("BTC/USDT"), fresh_listing("ETH/USDT")]
    with FakeBinance(listings, dt.datetime.now(dt.UTC)) as server:
        make = binance_client_factory(server.base_url)
        monkeypatch.setattr(download_ccxt, "default_client", lambda exchange, symbol="": make())
        yield server


def momentum_config(tmp_path: Path, **data: object) -> Path:
    """BTC/ETH momentum (always invested in the stronger), from 150 days ago."""
    config = {
        "name": "fresh-momentum",
        "strategy": {"name": "momentum_rotation", "params": {
            "universe": ["BTC/USDT", "ETH/USDT"], "lookback_days": 7, "top_k": 1,
            "min_return": -1.0, "rebalance": {"every": "weekly", "weekday": "sun"}}},
        "data": {"start": (TODAY - dt.timedelta(days=150)).isoformat(), **data},
        "runs_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "momentum.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def only_run(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "runs").iterdir()
    return folder


def test_download_then_backtest_trades_on_the_downloaded_bars(
    fresh: FakeBinance, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(["data", "download", "BTC/USDT", "ETH/USDT", "--source", "ccxt"], capsys, 60)
    assert result.code == 0, result.err
    btc_file = cache / "ccxt" / "binance" / "BTC-USDT-1d.csv"
    btc = read_ohlcv_csv(btc_file)
    assert (btc.index[-1].date(), len(btc)) == (YESTERDAY, 3121)
    assert "+3121 bars" in result.out and f"..{YESTERDAY}" in result.out

    # the config does not list BTC/USDT: its download ends later than the bundled file
    result = run_cli(["backtest", str(momentum_config(tmp_path)), "--no-report"], capsys, 120)
    assert result.code == 0, result.err
    assert "data update" not in result.err  # fresh data: no staleness warning
    folder = only_run(tmp_path)
    origin = json.loads((folder / "manifest.json").read_text())["data"]["BTC/USDT"]
    assert origin["source"] == "cache" and origin["file"] == str(btc_file)
    assert origin["last"] == YESTERDAY.isoformat()
    trades = pd.read_csv(folder / "trades.csv", parse_dates=["date"])
    btc_trades = trades[trades["symbol"] == "BTC/USDT"]
    assert len(btc_trades) >= 2
    assert (btc_trades["date"].dt.date > BUNDLED_BTC_LAST).all()  # no bundled bar is that late
    bars = btc.loc[btc_trades["date"]]
    slip = 1.001  # 5 bps of slippage, with room
    assert (btc_trades["price"].to_numpy() <= bars["high"].to_numpy() * slip).all()
    assert (btc_trades["price"].to_numpy() >= bars["low"].to_numpy() / slip).all()


def test_update_fetches_only_the_missing_bars(
    fresh: FakeBinance, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = fresh.listings["BTCUSDT"]
    fresh.listings["BTCUSDT"] = Listing("BTC", "USDT", full.rows[:-10])
    assert run_cli(["data", "download", "BTC/USDT"], capsys, 60).code == 0
    old = read_ohlcv_csv(cache / "ccxt" / "binance" / "BTC-USDT-1d.csv")
    assert old.index[-1].date() == YESTERDAY - dt.timedelta(days=10)

    fresh.listings["BTCUSDT"] = full  # ten days later
    fresh.requests.clear()
    result = run_cli(["data", "update"], capsys, 60)
    assert result.code == 0, result.err
    klines = fresh.klines_requests()
    assert len(klines) == 1, klines
    assert int(klines[0]["startTime"]) == day_ms(YESTERDAY - dt.timedelta(days=10))
    assert "+10 bars" in result.out
    new = read_ohlcv_csv(cache / "ccxt" / "binance" / "BTC-USDT-1d.csv")
    assert (new.index[-1].date(), len(new)) == (YESTERDAY, 3121)
    pd.testing.assert_frame_equal(new.iloc[: len(old)], old)

    # update CONFIG: BTC/USDT is up to date (no request), ETH/USDT is downloaded whole
    fresh.requests.clear()
    result = run_cli(["data", "update", str(momentum_config(tmp_path))], capsys, 60)
    assert result.code == 0, result.err
    assert {r["symbol"] for r in fresh.klines_requests()} == {"ETHUSDT"}
    lines = result.out.splitlines()
    assert any(line.startswith("BTC/USDT") and "(up to date)" in line for line in lines)
    assert any(line.startswith("ETH/USDT") and "+3121 bars" in line for line in lines)


def test_list_shows_bars_matching_the_files(
    fresh: FakeBinance, cache: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fresh.listings["BTCUSDT"] = Listing("BTC", "USDT", fresh.listings["BTCUSDT"].rows[-400:])
    assert run_cli(["data", "download", "BTC/USDT", "--since", "2020-01-01"], capsys).code == 0
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli(["data", "list"], capsys)
    assert result.code == 0, result.err
    assert max(len(line) for line in result.out.splitlines()) <= 80
    rows = {tuple(line.split()[:2]): line.split() for line in result.out.splitlines()
            if line.split() and line.split()[0] in ("BTC/USDT", "RUT")}
    for key, path in ((("BTC/USDT", "ccxt"), cache / "ccxt" / "binance" / "BTC-USDT-1d.csv"),
                      (("RUT", "bundled"), bundled_file("RUT"))):
        lines = path.read_text().strip().splitlines()
        row = rows[key]
        first, last = lines[1].split(",")[0], lines[-1].split(",")[0]
        assert first in row and last in row and str(len(lines) - 1) in row, (key, row)
    bundled_btc = rows[("BTC/USDT", "bundled")]
    assert f"{(TODAY - BUNDLED_BTC_LAST).days}d" in bundled_btc  # the age of the last bar
    only = run_cli(["data", "list", "RUT"], capsys).out.splitlines()
    assert [line.split()[:2] for line in only
            if line.split()[1:2] in (["bundled"], ["ccxt"], ["yfinance"])] == [["RUT", "bundled"]]


def test_yfinance_download_through_the_injected_fetch(
    cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    rut = read_bundled("RUT")
    yahoo = YahooFake("^RUT", rut, today=TODAY)
    monkeypatch.setattr(download_yfinance, "yahoo_daily_bars", yahoo)
    result = run_cli(["data", "download", "RUT", "--source", "yfinance", "--since",
                      "2024-01-02"], capsys)
    assert result.code == 0, result.err
    assert yahoo.calls == [("^RUT", dt.date(2024, 1, 2), TODAY)]
    cached = read_ohlcv_csv(cache / "yfinance" / "yahoo" / "^RUT-1d.csv")
    pd.testing.assert_frame_equal(cached, rut.loc["2024-01-02":], check_freq=False)
    assert "yfinance ^RUT" in result.out

    # a config insisting on the cache reads it; nothing of RUT is downloaded again
    config = CONFIGS / "rut_breakout_btc_only.yaml"
    result = run_cli(["backtest", str(config), "--no-report", "--start", "2024-06-01",
                      "--set", f"runs_dir={tmp_path / 'runs'}",
                      "--set", "data.symbols.RUT.source=cache"], capsys, 120)
    assert result.code == 0, result.err
    origin = json.loads((only_run(tmp_path) / "manifest.json").read_text())["data"]["RUT"]
    assert (origin["source"], origin["provider"]) == ("cache", "yfinance")
    assert len(yahoo.calls) == 1


def test_staleness_warning_on_the_bundled_data(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = momentum_config(tmp_path, start="2025-10-01")
    result = run_cli(["backtest", str(config), "--no-report"], capsys, 120)
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if "data update" in line]
    assert len(warnings) == 1, result.err
    age = (TODAY - BUNDLED_BTC_LAST).days
    assert f"the data end {BUNDLED_BTC_LAST}, {age} days ago; stalest: BTC/USDT" in warnings[0]
    assert warnings[0].endswith(f"refresh them with `papertrade data update {config}`")
    # an explicit end is what the user asked for: no warning
    result = run_cli(["backtest", str(config), "--no-report", "--end", "2026-02-01"], capsys, 120)
    assert result.code == 0 and "data update" not in result.err


def test_offline_download_and_update_name_the_bundled_data(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make = binance_client_factory(f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(download_ccxt, "default_client", lambda exchange, symbol="": make())
    result = run_cli(["data", "download", "BTC/USDT"], capsys, 60)
    assert_one_line_error(result, 3, "BTC/USDT: cannot download from binance",
                          "offline? backtests read the bundled BTC/USDT bars (through "
                          "2026-03-03) meanwhile")
    result = run_cli(["data", "update", str(momentum_config(tmp_path))], capsys, 60)
    assert_one_line_error(result, 3, "offline? backtests read the bundled BTC/USDT bars")
    assert not any(cache.rglob("*.csv"))


def test_offline_hint_works_when_followed_literally(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    yahoo = YahooFake("^RUT", read_bundled("RUT"), today=TODAY)
    yahoo.error = offline_curl_error()
    monkeypatch.setattr(download_yfinance, "yahoo_daily_bars", yahoo)
    config = tmp_path / "rut.yaml"
    raw = yaml.safe_load((CONFIGS / "rut_breakout_btc_only.yaml").read_text())
    raw["data"]["symbols"] = {"RUT": {"source": "yfinance", "ticker": "^RUT",
                                      "calendar": "us_equity"}}
    raw["runs_dir"] = str(tmp_path / "runs")
    config.write_text(yaml.safe_dump(raw))
    for command in (["data", "update", str(config)], ["backtest", str(config), "--no-report"]):
        result = run_cli(command, capsys, 60)
        assert_one_line_error(result, 3, "set data.symbols.RUT to {source: bundled}")
    result = run_cli(["backtest", str(config), "--no-report", "--start", "2025-01-01",
                      "--set", "data.symbols.RUT.source=bundled"], capsys, 120)
    assert result.code == 0, result.err
    origin = json.loads((only_run(tmp_path) / "manifest.json").read_text())["data"]["RUT"]
    assert (origin["source"], origin["calendar"]) == ("bundled", "us_equity")


def test_source_cache_without_a_download_says_how_to_get_one(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = momentum_config(tmp_path, symbols={"ETH/USDT": {"source": "cache"}})
    result = run_cli(["backtest", str(config)], capsys)
    assert_one_line_error(result, 3, "ETH/USDT: no downloaded 1d bars in the cache",
                          "run `papertrade data download ETH/USDT --source ccxt`",
                          "--set data.symbols.ETH/USDT.source=bundled")
    assert not (tmp_path / "runs").exists()


def test_update_of_an_empty_cache_says_what_to_do(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(["data", "update"], capsys)
    assert result.code == 0
    assert "holds no downloads: papertrade data download SYMBOL..." in result.out


def test_switching_a_source_drops_the_old_sources_keys_only() -> None:
    from papertrade.config import apply_overrides

    raw = {"data": {"symbols": {
        "RUT": {"source": "yfinance", "ticker": "^RUT", "calendar": "us_equity"},
        "SPX": {"source": "csv", "path": "spx.csv"}}}}
    symbols = apply_overrides(raw, ["data.symbols.RUT.source=ccxt",
                                    "data.symbols.SPX.source=csv"], "f")["data"]["symbols"]
    assert symbols == {"RUT": {"source": "ccxt", "calendar": "us_equity"},
                       "SPX": {"source": "csv", "path": "spx.csv"}}  # same source: kept
    assert raw["data"]["symbols"]["RUT"]["ticker"] == "^RUT"  # the input is not touched
    added = apply_overrides(raw, ["data.symbols.RUT.source=yfinance",
                                  "data.symbols.BTC/USDT.source=cache"], "f")["data"]["symbols"]
    assert added["RUT"]["ticker"] == "^RUT" and added["BTC/USDT"] == {"source": "cache"}


def test_a_download_since_a_date_continues_the_bundled_bars(
    fresh: FakeBinance, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = YESTERDAY - dt.timedelta(days=99)
    result = run_cli(["data", "download", "BTC/USDT", "ETH/USDT", "--since", str(first)],
                     capsys, 60)
    assert result.code == 0, result.err
    assert all(int(r["startTime"]) >= day_ms(first) for r in fresh.klines_requests())
    config = momentum_config(tmp_path, start="2025-06-01")
    result = run_cli(["backtest", str(config), "--no-report"], capsys, 120)
    assert result.code == 0, result.err
    meta = json.loads((only_run(tmp_path) / "manifest.json").read_text())
    origin = meta["data"]["BTC/USDT"]
    bundled = read_bundled("BTC/USDT")
    before = bundled.loc[: pd.Timestamp(first) - pd.Timedelta(days=1)]
    assert (origin["source"], origin["first"], origin["last"]) == (
        "cache", "2017-08-17", YESTERDAY.isoformat())
    assert origin["bundled_until"] == f"{before.index[-1]:%Y-%m-%d}"
    assert origin["rows"] == len(before) + 100
    assert (meta["start"], meta["end"]) == ("2025-06-01", YESTERDAY.isoformat())


PROGRESS_SCRIPT = """
import datetime as dt, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from fake_binance_klines import FakeBinance, binance_client_factory
from test_data_cli import fresh_listing
from papertrade import cli
from papertrade.data import download_ccxt
with FakeBinance([fresh_listing("BTC/USDT")], dt.datetime.now(dt.UTC)) as server:
    server.page_cap = 500
    make = binance_client_factory(server.base_url)
    download_ccxt.default_client = lambda exchange, symbol="": make()
    cli.main(["data", "download", "BTC/USDT", "--cache-dir", sys.argv[3]])
"""


def test_a_terminal_gets_a_progress_bar_and_a_pipe_plain_lines(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys
    import threading

    here = Path(__file__).resolve().parent
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:  # read while the command runs: a full terminal buffer would block it
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO once the command's end of the terminal is closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    done = subprocess.run(
        [sys.executable, "-c", PROGRESS_SCRIPT, str(here), str(here.parent.parent),
         str(tmp_path / "cache")],
        stdout=subprocess.PIPE, stderr=slave, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "100"})
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    shown = b"".join(chunks)
    assert done.returncode == 0, shown.decode(errors="replace")[-2000:]
    terminal = shown.decode(errors="replace")
    assert "[1/1] BTC/USDT" in terminal and f"through {YESTERDAY}" in terminal
    assert "\x1b[" in terminal  # drawn, then cleared (transient)
    (line, cache_line) = done.stdout.splitlines()
    assert line.startswith("BTC/USDT") and "+3121 bars" in line and "\x1b" not in line
    assert cache_line == f"cache: {tmp_path / 'cache'}"
