"""The run configuration's typed, frozen models (the public contract of the YAML keys).

Loading, interpolation and error messages live in :mod:`papertrade.config`.

Every number is finite (``.inf``/``.nan`` are refused everywhere) and has a documented range:
``broker.cash`` 1 to 1e12; ``broker.fee_bps``/``slippage_bps``/``emulator.spread_bps`` 0 to
1000; ``risk.max_order_notional`` up to 1e12; ``risk.max_daily_turnover`` up to 1000;
``data.max_staleness.*`` above 0 up to 3660 days; ``data.start``/``data.end`` 1900-01-01 to
2200-12-31; the live loop's delays up to a day (backoff up to an hour).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Frozen(BaseModel):
    """Base of every config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


Calendar = Literal["crypto", "us_equity"]


class BundledSource(Frozen):
    """Real daily OHLCV shipped with papertrade (see ``papertrade/datasets/PROVENANCE.md``)."""

    source: Literal["bundled"] = "bundled"
    calendar: Calendar | None = None


class CsvSource(Frozen):
    """A local CSV with the bundled files' columns: ``date,open,high,low,close,volume``."""

    source: Literal["csv"]
    path: Path
    calendar: Calendar | None = None


class YFinanceSource(Frozen):
    """Daily bars downloaded from Yahoo Finance through yfinance, cached on disk."""

    source: Literal["yfinance"]
    ticker: str
    calendar: Calendar | None = None


class CcxtSource(Frozen):
    """Daily klines downloaded from an exchange's public API through ccxt, cached on disk."""

    source: Literal["ccxt"]
    exchange: str = "binance"
    market: str | None = Field(default=None, description="exchange symbol; default: the key")
    calendar: Calendar | None = None


class CacheSource(Frozen):
    """Bars put in the data cache by ``papertrade data download``/``update``; never downloads.

    Symbols absent from ``data.symbols`` already read the cache when its bars are newer than the
    bundled ones; ``source: cache`` insists on the cache (an error when nothing is cached).
    """

    source: Literal["cache"]
    provider: Literal["ccxt", "yfinance"] | None = Field(
        default=None, description="which download to read when the symbol was downloaded from "
        "both; null: the one with the latest bar",
    )
    calendar: Calendar | None = None


SymbolSource = Annotated[
    BundledSource | CsvSource | YFinanceSource | CcxtSource | CacheSource,
    Field(discriminator="source"),
]

CACHE_DIR_ENV = "PAPERTRADE_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$PAPERTRADE_CACHE_DIR``, or ``~/.cache/papertrade``."""
    return Path(os.environ.get(CACHE_DIR_ENV) or "~/.cache/papertrade")


class StrategyConfig(Frozen):
    """Which strategy runs, and its parameters (validated by the strategy's own Params)."""

    name: str = Field(description="a registered strategy name, the name of a strategy in "
                      "`path`, or module:Class")
    path: Path | None = Field(
        default=None, description="a .py file defining the strategy, relative to the config's "
        "folder",
    )
    params: dict[str, Any] = Field(default_factory=dict)


EARLIEST_START = dt.date(1900, 1, 1)
LATEST_END = dt.date(2200, 12, 31)


class MaxStaleness(Frozen):
    """How old (calendar days) an as-of joined value may be at a decision before it counts as
    missing instead of being carried forward; per calendar."""

    us_equity: float = Field(
        default=7.0, gt=0, le=3660,
        description="index/stock sessions: 7 calendar days = 5 sessions (the longest closure "
        "in the bundled RUT, 9/11, lasted 6 days)",
    )
    crypto: float = Field(default=2.0, gt=0, le=3660, description="24/7 markets")


class DataConfig(Frozen):
    """Market data: window, bar size, and where each symbol comes from."""

    timeframe: Literal["1d"] = "1d"
    start: dt.date | None = Field(default=None, ge=EARLIEST_START, le=LATEST_END)
    end: dt.date | None = Field(
        default=None, ge=EARLIEST_START, le=LATEST_END, description="null: latest available"
    )
    symbols: dict[str, SymbolSource] = Field(
        default_factory=dict, description="per-symbol source; default: the bundled data set"
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="downloaded bars are cached here (default: $PAPERTRADE_CACHE_DIR or "
        "~/.cache/papertrade)",
    )
    max_staleness: MaxStaleness = Field(
        default_factory=MaxStaleness,
        description="calendar days after which a signal's last bar is missing, not carried",
    )

    @model_validator(mode="after")
    def _start_before_end(self) -> DataConfig:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class EmulatorConfig(Frozen):
    """The local exchange emulator (``broker.mode: emulator``)."""

    url: str | None = Field(
        default=None, description="a running emulator's base URL; null: start one in-process"
    )
    start: dt.date | None = Field(
        default=None, description="replay start: first bar of the live history; null: data.start"
    )
    spread_bps: float | None = Field(
        default=None, ge=0, le=1000,
        description="half-spread of market fills; null: broker.slippage_bps",
    )
    api_key_env: str = Field(
        default="PAPERTRADE_EMULATOR_KEY", description="env var with the key of a running emulator"
    )
    secret_env: str = Field(default="PAPERTRADE_EMULATOR_SECRET")

    @field_validator("url")
    @classmethod
    def _loopback_only(cls, url: str | None) -> str | None:
        return _loopback_or_none(url, "the emulator runs on this machine (papertrade exchange "
                                 "serve prints its URL)")


def _loopback_or_none(url: str | None, why: str) -> str | None:
    """``url`` unchanged when it is None or loopback (:func:`_is_loopback_url`); else the
    validation error ``not a loopback address: <why>``."""
    if url is not None and not _is_loopback_url(url):
        raise ValueError(f"not a loopback address: {why}")
    return url


def _is_loopback_url(url: str) -> bool:
    """Whether ``url`` is exactly ``http(s)://<loopback host>[:port][/]``, read the same way by
    urllib and by urllib3 (what requests, hence ccxt, connects to).

    Refused: anything but printable ASCII; a backslash, ``@`` (userinfo), ``?`` or ``#`` (urllib
    and urllib3 split these differently: ``http://api.binance.com\\@127.0.0.1:1`` is
    127.0.0.1 to urllib but api.binance.com to requests); a path other than ``/``; a bad port;
    a host that is not ``localhost`` or a loopback IP literal (no DNS names, no ``127.1``).
    """
    import ipaddress
    from urllib.parse import urlsplit

    from urllib3.util import parse_url

    if not url.isascii() or any(c in url for c in "\\@?#") or any(
            not c.isprintable() or c.isspace() for c in url):
        return False
    try:
        ours, theirs = urlsplit(url), parse_url(url)
        port = ours.port
    except ValueError:  # urllib3's LocationParseError is a ValueError too
        return False
    host = ours.hostname or ""
    their_host = (theirs.host or "").lower()
    if their_host.startswith("[") and their_host.endswith("]"):
        their_host = their_host[1:-1]
    if (ours.scheme not in ("http", "https") or theirs.scheme != ours.scheme
            or ours.path not in ("", "/") or their_host != host or theirs.port != port
            or theirs.auth is not None):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BrokerConfig(Frozen):
    """Account and execution costs, shared by every broker."""

    cash: float = Field(
        default=10_000.0, ge=1, le=1e12, description="starting cash in the quote currency"
    )
    quote: str = Field(default="USDT", min_length=1, max_length=20,
                       description="the cash currency")
    fee_bps: float = Field(default=10.0, ge=0, le=1000, description="fee per fill, bps of notional")
    slippage_bps: float = Field(
        default=5.0, ge=0, le=1000, description="fill price worse than the reference, in bps"
    )
    mode: Literal["testnet", "demo", "dry_run", "emulator"] = Field(
        default="emulator",
        description="live only: testnet (ccxt sandbox), demo (ccxt demo trading), dry_run, "
        "emulator",
    )
    exchange: str = Field(default="binance", description="live only: ccxt exchange id")
    api_key_env: str = Field(
        default="PAPERTRADE_API_KEY", description="live only: env var holding the API key"
    )
    secret_env: str = Field(
        default="PAPERTRADE_API_SECRET", description="live only: env var holding the secret"
    )
    testnet_url: str | None = Field(
        default=None, description="testnet only: a loopback base URL serving the sandbox's API "
        "in place of the exchange's sandbox host (a local mirror, or the emulator in tests)",
    )
    emulator: EmulatorConfig = Field(default_factory=EmulatorConfig)

    @field_validator("testnet_url")
    @classmethod
    def _loopback_sandbox(cls, url: str | None) -> str | None:
        return _loopback_or_none(url, "the testnet is reached at the sandbox URLs ccxt "
                                 "defines; this key is for a local mirror")


class RiskConfig(Frozen):
    """Safety rails of live trading."""

    max_order_notional: float | None = Field(
        default=None, gt=0, le=1e12, description="larger orders are cut to this notional"
    )
    max_daily_turnover: float | None = Field(
        default=None, gt=0, le=1000,
        description="traded notional per UTC day, as a multiple of equity",
    )
    kill_drawdown: float | None = Field(
        default=None, gt=0, lt=1, description="flatten to quote and stop beyond this drawdown"
    )
    kill_file: str = Field(
        default="STOP", description="a file of this name in the run folder stops the run"
    )


class ResetConfig(Frozen):
    """Detecting a venue's balance reset (a testnet wipe) or any other transfer."""

    detect: bool = Field(default=True, description="compare balances with the journal at "
                         "every decision (testnet, demo, emulator)")
    min_change: float = Field(
        default=0.01, gt=0, le=1,
        description="an unexplained balance change worth this fraction of equity is a "
        "capital event",
    )
    refill: dict[str, float] | None = Field(
        default=None, description="the venue's default refill ({USDT: 10000}); when set, only "
        "balances landing on it are a reset, any other jump is a transfer",
    )


class LiveConfig(Frozen):
    """The live decision loop."""

    market_data: Literal["mainnet", "venue"] | None = Field(
        default=None, description="where traded pairs' history comes from: mainnet (the "
        "exchange's public market data, key-less) or venue (the sandbox's own klines); null: "
        "mainnet for testnet/demo, venue for the emulator",
    )
    market_data_url: str | None = Field(
        default=None, description="a loopback base URL serving the exchange's public API in "
        "place of mainnet (a local mirror, tests)",
    )
    reset: ResetConfig = Field(default_factory=ResetConfig)

    decision_delay_seconds: float = Field(
        default=60.0, ge=0, le=86_400, description="wait after a bar's close before deciding"
    )
    retries: int = Field(default=6, ge=0, le=20, description="attempts on transient faults")
    backoff_seconds: float = Field(default=0.5, ge=0, le=3600, description="first backoff delay")
    backoff_max_seconds: float = Field(default=30.0, ge=0, le=3600, description="backoff cap")
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="HTTP timeout of each exchange request"
    )
    dust_notional: float = Field(
        default=1.0, ge=0, le=1e9,
        description="differences below this quote notional are not traded",
    )

    @field_validator("market_data_url")
    @classmethod
    def _loopback_mirror(cls, url: str | None) -> str | None:
        return _loopback_or_none(url, "mainnet market data is reached at the exchange's own "
                                 "public URLs; this key is for a local mirror")


NotifyEvent = Literal["trade", "rejection", "rail", "kill_switch", "stop", "crash", "start",
                      "decision", "retry", "reset"]


def _default_notify_events() -> list[NotifyEvent]:
    return ["trade", "rejection", "rail", "kill_switch", "stop", "crash", "reset"]


class NotifyConfig(Frozen):
    """Messages about a live run (live runs only), through apprise: generic JSON webhooks
    (``json://host/path``, ``jsons://`` for https) and the common chat services
    (``tgram://``, ``slack://``, ``discord://``, ``mailto://``, ... see apprise's list).
    Secrets belong in the environment:
    ``tgram://${TELEGRAM_BOT_TOKEN}/${TELEGRAM_CHAT_ID}``; every URL is masked in run folders,
    logs and messages. A failing or slow target never stops or slows trading."""

    urls: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=20, description="apprise URLs; none: no notifications",
    )
    events: list[NotifyEvent] = Field(
        default_factory=_default_notify_events,
        description="what is sent: trade (each fill), rejection, rail (an order cut by a cap), "
        "kill_switch, stop, crash, reset (a testnet reset or transfer); also start, decision, "
        "retry",
    )
    timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="connect and read timeout of each message",
    )
    queue_size: int = Field(
        default=200, ge=1, le=10_000,
        description="messages waiting to be sent; beyond, new ones are dropped (and counted)",
    )


class RunConfig(Frozen):
    """A whole run: what the YAML file holds."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    strategy: StrategyConfig
    data: DataConfig = Field(default_factory=DataConfig)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    runs_dir: Path = Field(default=Path("runs"), description="run folders are created here")


class LoadedConfig(Frozen):
    """A validated config together with where it came from."""

    path: str
    raw: dict[str, Any]
    run: RunConfig
