"""The run configuration's typed, frozen models (the public contract of the YAML keys).

Loading, interpolation and error messages live in :mod:`papertrade.config`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Frozen(BaseModel):
    """Base of every config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


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


SymbolSource = Annotated[
    BundledSource | CsvSource | YFinanceSource | CcxtSource, Field(discriminator="source")
]


class StrategyConfig(Frozen):
    """Which strategy runs, and its parameters (validated by the strategy's own Params)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class DataConfig(Frozen):
    """Market data: window, bar size, and where each symbol comes from."""

    timeframe: Literal["1d"] = "1d"
    start: dt.date | None = None
    end: dt.date | None = Field(default=None, description="null: latest available")
    symbols: dict[str, SymbolSource] = Field(
        default_factory=dict, description="per-symbol source; default: the bundled data set"
    )
    cache_dir: Path = Field(
        default=Path("~/.cache/papertrade"), description="downloaded bars are cached here"
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
        default=None, ge=0, description="half-spread of market fills; null: broker.slippage_bps"
    )
    api_key_env: str = Field(
        default="PAPERTRADE_EMULATOR_KEY", description="env var with the key of a running emulator"
    )
    secret_env: str = Field(default="PAPERTRADE_EMULATOR_SECRET")

    @field_validator("url")
    @classmethod
    def _loopback_only(cls, url: str | None) -> str | None:
        if url is not None and not _is_loopback_url(url):
            raise ValueError("not a loopback address: the emulator runs on this machine "
                             "(papertrade exchange serve prints its URL)")
        return url


def _is_loopback_url(url: str) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BrokerConfig(Frozen):
    """Account and execution costs, shared by every broker."""

    cash: float = Field(default=10_000.0, gt=0, description="starting cash in the quote currency")
    quote: str = Field(default="USDT", min_length=1, description="the cash currency")
    fee_bps: float = Field(default=10.0, ge=0, le=1000, description="fee per fill, bps of notional")
    slippage_bps: float = Field(
        default=5.0, ge=0, le=1000, description="fill price worse than the reference, in bps"
    )
    mode: Literal["testnet", "dry_run", "emulator"] = Field(
        default="emulator", description="live only: testnet (ccxt sandbox), dry_run, emulator"
    )
    exchange: str = Field(default="binance", description="live only: ccxt exchange id")
    api_key_env: str = Field(
        default="PAPERTRADE_API_KEY", description="live only: env var holding the API key"
    )
    secret_env: str = Field(
        default="PAPERTRADE_API_SECRET", description="live only: env var holding the secret"
    )
    emulator: EmulatorConfig = Field(default_factory=EmulatorConfig)


class RiskConfig(Frozen):
    """Safety rails of live trading."""

    max_order_notional: float | None = Field(
        default=None, gt=0, description="larger orders are cut to this notional"
    )
    max_daily_turnover: float | None = Field(
        default=None, gt=0, description="traded notional per UTC day, as a multiple of equity"
    )
    kill_drawdown: float | None = Field(
        default=None, gt=0, lt=1, description="flatten to quote and stop beyond this drawdown"
    )
    kill_file: str = Field(
        default="STOP", description="a file of this name in the run folder stops the run"
    )


class LiveConfig(Frozen):
    """The live decision loop."""

    decision_delay_seconds: float = Field(
        default=60.0, ge=0, description="wait after a bar's close before deciding"
    )
    retries: int = Field(default=6, ge=0, le=20, description="attempts on transient faults")
    backoff_seconds: float = Field(default=0.5, ge=0, description="first backoff delay")
    backoff_max_seconds: float = Field(default=30.0, ge=0, description="backoff cap")
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="HTTP timeout of each exchange request"
    )
    dust_notional: float = Field(
        default=1.0, ge=0, description="differences below this quote notional are not traded"
    )


class RunConfig(Frozen):
    """A whole run: what the YAML file holds."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    strategy: StrategyConfig
    data: DataConfig = Field(default_factory=DataConfig)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    runs_dir: Path = Field(default=Path("runs"), description="run folders are created here")


class LoadedConfig(Frozen):
    """A validated config together with where it came from."""

    path: str
    raw: dict[str, Any]
    run: RunConfig
