"""``papertrade data``: list the bundled and downloaded bars, download symbols into the data
cache, update the cache incrementally.

A symbol that a config does not pin in ``data.symbols`` reads its download when that one ends
later than the bundled file (``source: cache`` insists on the download, ``source: bundled`` on
the bundled file): ``papertrade data update CONFIG`` is all it takes to backtest on fresh bars.
Downloads stop at the first failure, in one line saying what to do (exit 3, like every market
data error); what was downloaded before stays in the cache.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from papertrade.util.options import date_option

if TYPE_CHECKING:
    from rich.console import Console

    from papertrade.data.catalog import Provider

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

CacheDirOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", metavar="DIR", help="the data cache (default: "
                 "$PAPERTRADE_CACHE_DIR or ~/.cache/papertrade; update CONFIG: data.cache_dir)"),
]


@dataclass(frozen=True)
class Job:
    """One series to download: where from, under which config symbol, from which day."""

    symbol: str
    provider: Provider
    namespace: str
    name: str
    since: dt.date | None
    timeframe: str = "1d"
    pinned: bool = False  # the config downloads it itself (source: ccxt or yfinance)

    @property
    def label(self) -> str:
        return (f"ccxt {self.namespace} {self.name}" if self.provider == "ccxt"
                else f"yfinance {self.name}")


def _cache_dir(option: Path | None) -> Path:
    from papertrade.config_models import default_cache_dir

    return (option or default_cache_dir()).expanduser()


def _console(stderr: bool = False) -> Console:
    """As wide as the terminal; 100 columns when piped (unless COLUMNS is set)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(width=100 if piped else None, stderr=stderr, highlight=False)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# --------------------------------------------------------------------------- list


@app.command("list")
def list_data(
    symbols: Annotated[list[str] | None, typer.Argument(
        metavar="[SYMBOL]", help="only these symbols (default: all)")] = None,
    cache_dir: CacheDirOpt = None,
    bundled: Annotated[bool, typer.Option(
        "--bundled/--no-bundled", help="include the bundled data set")] = True,
) -> None:
    """Every symbol bundled or downloaded: source, first and last bar, bars, gaps, age."""
    from rich.table import Table

    from papertrade.data.bars import bundled_symbols, default_calendar, read_bundled
    from papertrade.data.catalog import cache_entries, read_entry
    from papertrade.data.validate import find_gaps
    from papertrade.errors import DataError

    folder = _cache_dir(cache_dir)
    today = _today()
    rows: list[tuple[str, str, Any]] = []
    if bundled:
        rows.extend((s, "bundled", lambda s=s: read_bundled(s)) for s in bundled_symbols())
    entries = cache_entries(folder)
    rows.extend((e.symbol, f"{e.label.removesuffix(' ' + e.symbol)}", lambda e=e: read_entry(e))
                for e in entries)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, justify in (("symbol", "left"), ("source", "left"), ("first", "left"),
                            ("last", "left"), ("bars", "right"), ("gaps", "right"),
                            ("age", "right")):
        table.add_column(column, justify=justify, no_wrap=column != "source",  # type: ignore[arg-type]
                         overflow="fold")
    if symbols:
        rows = [row for row in rows if row[0] in symbols]
    for symbol, source, read in sorted(rows, key=lambda r: (r[0], r[1] != "bundled", r[1])):
        try:
            frame = read()
        except DataError:
            table.add_row(symbol, source, "[red]unreadable[/]", "", "", "", "")
            continue
        index = frame.index
        age = (today - index[-1].date()).days
        table.add_row(symbol, source, f"{index[0]:%Y-%m-%d}", f"{index[-1]:%Y-%m-%d}",
                      str(len(frame)), str(len(find_gaps(index, default_calendar(symbol)))),
                      f"[yellow]{age}d[/]" if age > 7 else f"{age}d")
    console = _console()
    console.print(table)
    console.print(f"cache {folder}: {len(entries)} download(s); configs read a download "
                  "instead of the bundled file when it ends later (see README, Fresh data)")


# --------------------------------------------------------------------------- download


@app.command()
def download(
    symbols: Annotated[list[str], typer.Argument(
        metavar="SYMBOL", help="config symbols (BTC/USDT, RUT); SYMBOL=NAME downloads "
        "another market or ticker under that symbol (RUT=^RUT)")],
    source: Annotated[str | None, typer.Option(
        "--source", metavar="ccxt|yfinance", help="where from (default: ccxt for crypto pairs "
        "such as BTC/USDT, yfinance for the rest)")] = None,
    exchange: Annotated[str, typer.Option(metavar="ID", help="ccxt exchange id")] = "binance",
    since: Annotated[str | None, typer.Option(
        metavar="DATE", help="first day (YYYY-MM-DD; default: the first bar there is)")] = None,
    timeframe: Annotated[str, typer.Option(metavar="TF", help="bar size (1d only for now)")] = "1d",
    cache_dir: CacheDirOpt = None,
) -> None:
    """Download SYMBOL... into the data cache (only the bars the cache lacks)."""
    from papertrade.data.catalog import default_remote
    from papertrade.errors import ConfigError

    if source is not None and source not in ("ccxt", "yfinance"):
        raise ConfigError("command line", "--source", f"unknown source '{source}'",
                          "use --source ccxt or --source yfinance")
    if timeframe != "1d":
        raise ConfigError("command line", "--timeframe", f"'{timeframe}' is not supported yet",
                          "download daily bars: --timeframe 1d")
    first = date_option("--since", since)
    jobs: list[Job] = []
    for item in symbols:
        symbol, _, name = item.partition("=")
        if not symbol.strip() or ("=" in item and not name.strip()):
            raise ConfigError("command line", item, "not SYMBOL or SYMBOL=NAME",
                              "write e.g. BTC/USDT or RUT=^RUT")
        provider: Provider = (default_remote(symbol)[0] if source is None
                              else "ccxt" if source == "ccxt" else "yfinance")
        jobs.append(_job(symbol, provider, first, exchange, name))
    _run(jobs, _cache_dir(cache_dir))


# --------------------------------------------------------------------------- update


@app.command()
def update(
    config: Annotated[Path | None, typer.Argument(
        metavar="[CONFIG]", help="refresh every symbol this run config reads (default: "
        "every download in the cache)")] = None,
    cache_dir: CacheDirOpt = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE", help="override a key of CONFIG")] = None,
) -> None:
    """Fetch the bars missing since the last download (CONFIG's symbols, or the whole cache)."""
    from papertrade.data.catalog import cache_entries

    if config is None:
        folder = _cache_dir(cache_dir)
        entries = cache_entries(folder)
        if not entries:
            typer.echo(f"the cache {folder} holds no downloads: papertrade data download "
                       "SYMBOL... first (or papertrade data update CONFIG)")
            return
        _run([Job(e.symbol, e.provider, e.namespace, e.name, e.covers_from, e.timeframe)
              for e in entries], folder)
        return
    _update_config(config, overrides or [], cache_dir)


def _update_config(config: Path, overrides: list[str], cache_dir: Path | None) -> None:
    from papertrade.config import (
        BundledSource,
        CacheSource,
        CcxtSource,
        CsvSource,
        YFinanceSource,
        load_config,
    )
    from papertrade.data.catalog import default_remote, find_cached
    from papertrade.runner import build_strategy

    loaded = load_config(config, overrides)
    data = loaded.run.data
    folder = _cache_dir(cache_dir or data.cache_dir)
    strategy = build_strategy(loaded)
    symbols = list(dict.fromkeys([*strategy.symbol_keys().values(),
                                  *strategy.benchmark_symbols()]))
    jobs: list[Job] = []
    for symbol in symbols:
        source = data.symbols.get(symbol)
        if isinstance(source, BundledSource | CsvSource):
            what = "the bundled file" if isinstance(source, BundledSource) else "a CSV file"
            typer.echo(f"{symbol}: skipped: data.symbols.{symbol} pins {what}")
            continue
        if isinstance(source, CcxtSource):
            jobs.append(Job(symbol, "ccxt", source.exchange, source.market or symbol, None,
                            data.timeframe, pinned=True))
            continue
        if isinstance(source, YFinanceSource):
            jobs.append(Job(symbol, "yfinance", "yahoo", source.ticker, None, data.timeframe,
                            pinned=True))
            continue
        provider = source.provider if isinstance(source, CacheSource) else None
        entry = find_cached(folder, symbol, data.timeframe, provider)
        if entry is not None:
            jobs.append(Job(symbol, entry.provider, entry.namespace, entry.name,
                            entry.covers_from, entry.timeframe))
        else:
            jobs.append(_job(symbol, provider or default_remote(symbol)[0], None,
                             timeframe=data.timeframe))
    _run(jobs, folder)


def _job(symbol: str, provider: Provider, since: dt.date | None, exchange: str = "binance",
         name: str = "", timeframe: str = "1d") -> Job:
    """A download of ``symbol``: ``name`` (default: the symbol on ccxt, its Yahoo ticker on
    yfinance) from ``exchange`` (ccxt) or Yahoo."""
    from papertrade.data.catalog import yahoo_ticker

    if provider == "ccxt":
        return Job(symbol, provider, exchange, name or symbol, since, timeframe)
    return Job(symbol, provider, "yahoo", name or yahoo_ticker(symbol), since, timeframe)


# --------------------------------------------------------------------------- running jobs


def _run(jobs: list[Job], folder: Path) -> None:
    """Download every job in order, with a progress bar on a terminal and one line per symbol
    on stdout; stops at the first error (one line, exit 3)."""
    from papertrade.data.catalog import cached_series, download
    from papertrade.errors import DataError

    out = _console()
    with _progress(len(jobs)) as advance:
        for job in jobs:
            series = (job.provider, job.namespace, job.name, job.timeframe)
            old = cached_series(folder, *series)
            try:
                frame = download(job.provider, job.namespace, job.name, symbol=job.symbol,
                                 timeframe=job.timeframe, since=job.since, cache_dir=folder,
                                 on_page=advance(job.symbol))
            except DataError as exc:
                raise DataError(_with_cli_hint(str(exc), job)) from None
            after = cached_series(folder, *series)
            rows = after.rows if after is not None else len(frame)
            added = rows - (old.rows if old is not None else 0)
            first = after.first if after is not None else frame.index[0].date()
            last = after.last if after is not None else frame.index[-1].date()
            news = f"+{added} bars" if added else "up to date"
            out.print(f"{job.symbol:<10} {job.label:<28} {first}..{last} {rows:>6} bars "
                      f"({news})", soft_wrap=True)
    out.print(f"cache: {folder}", soft_wrap=True)


def _with_cli_hint(message: str, job: Job) -> str:
    """The downloaders' offline hint speaks of configs; here, unless the config downloads the
    symbol itself, say what backtests read meanwhile."""
    from papertrade.data.cache import offline_hint
    from papertrade.data.catalog import bundled_last

    hint = offline_hint(job.symbol)
    if job.pinned or not message.endswith(hint):
        return message
    last = bundled_last(job.symbol)
    if last is None:
        return message.removesuffix(hint) + "offline? retry when online"
    return message.removesuffix(hint) + (
        f"offline? backtests read the bundled {job.symbol} bars (through {last}) meanwhile; "
        "retry when online")


@contextmanager
def _progress(total: int) -> Iterator[Callable[[str], Callable[[dt.date, dt.date], None]]]:
    """``advance(symbol)`` starts one symbol's download and gives its per-page callback: a
    rich progress bar on stderr (days downloaded out of days to download) when stderr is a
    terminal, nothing otherwise (the lines on stdout say what was done)."""
    console = _console(stderr=True)
    if not console.is_terminal:
        yield lambda symbol: lambda first, last: None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    yesterday = _today() - dt.timedelta(days=1)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.fields[reached]}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        current: list[TaskID] = []

        def advance(symbol: str) -> Callable[[dt.date, dt.date], None]:
            if current:
                bar.update(current[-1], visible=False)
            task = bar.add_task(f"[{len(current) + 1}/{total}] {symbol}", total=None,
                                reached="")
            current.append(task)

            def page(first: dt.date, last: dt.date) -> None:
                days = max(1, (yesterday - first).days + 1)
                bar.update(task, total=days, completed=min(days, (last - first).days + 1),
                           reached=f"through {last}")

            return page

        yield advance
