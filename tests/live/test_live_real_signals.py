"""Signals from the real market, orders to a sandbox that is a separate market.

Two loopback servers: the exchange emulator as the sandbox, whose replay jumps to 1.5 times the
real prices on 2021-01-20 (LINK to 2.25 times: a market of its own, as Binance's testnet is),
and a public Binance market-data server with the real bundled prices, on the emulator's clock.
The flagship runs in ``testnet`` mode: its order client is ccxt's Binance in sandbox mode with
the sandbox's URLs served by the emulator (``broker.testnet_url``), and its signals come, by
default, from mainnet's public API served by the public server (``live.market_data_url``). Its
decisions are the backtest's on the real prices, not those the strategy makes on the sandbox's
klines; every fill journals the sandbox's price and the real market's; the public client sends
nothing but credential-free GETs of public endpoints.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ccxt  # noqa: TID251 - the tests drive a real ccxt client
import pandas as pd
import pytest

from papertrade.brokers.ccxt_emulator import make_emulator_client
from papertrade.brokers.ccxt_public import public_client
from papertrade.config import load_config
from papertrade.data.bars import bundled_file
from papertrade.errors import BrokerRejected, ConfigError
from papertrade.exchange_sim.server import EmulatorServer
from papertrade.live.feed import LiveMarketFeed
from papertrade.runner import build_strategy
from papertrade.strategies.base import checked_decide
from tests.conftest import FLAGSHIP
from tests.data.fake_binance_klines import FakeBinance, listing_from_csv
from tests.live.testnet_runs import backtest_and_testnet

START, JUMP, UNTIL = "2020-12-01", "2021-01-20", "2021-02-28"
SCALE = 1.5
KEY, SECRET = "k" * 24, "s" * 24  # keys set on the public client: it refuses to send them


def traded() -> list[str]:
    return build_strategy(load_config(FLAGSHIP)).traded_symbols()


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[EmulatorServer, FakeBinance]]:
    scale = {s: SCALE for s in traded()} | {"LINK/USDT": SCALE * SCALE}
    sandbox = EmulatorServer(symbols=traded(), start=START, spread_bps=5.0, taker_fee="0.001",
                             maker_fee="0.001", balances={"USDT": 10_000}, price_scale=scale,
                             price_scale_from=JUMP)
    sandbox.start()
    listings = [listing_from_csv(bundled_file(s), *s.split("/")) for s in traded()]
    with FakeBinance(listings, dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
                     clock=sandbox.clock.now_ms) as public:
        yield sandbox, public
    sandbox.stop()


@pytest.fixture(scope="module")
def runs(servers: tuple[EmulatorServer, FakeBinance], tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, Path]:
    sandbox, public = servers
    tmp = tmp_path_factory.mktemp("signals")
    assert load_config(FLAGSHIP, ["broker.mode=testnet"]).run.live.market_data is None
    # signals from mainnet, testnet's default, served by the public server
    return backtest_and_testnet(sandbox, tmp, START, UNTIL,
                                f"live.market_data_url={public.base_url}")


def query(folder: Path, sql: str) -> pd.DataFrame:
    with sqlite3.connect(f"file:{folder / 'journal.sqlite'}?mode=ro", uri=True) as db:
        return pd.read_sql_query(sql, db)


def targets(folder: Path) -> dict[str, dict[str, float]]:
    rows = query(folder, "SELECT time, targets FROM decisions ORDER BY time")
    return {t: json.loads(v) for t, v in zip(rows["time"], rows["targets"], strict=True)}


def sandbox_decisions(sandbox: EmulatorServer, now: pd.Timestamp) -> dict[str, dict[str, float]]:
    """What the strategy decides on the sandbox's own klines (``live.market_data: venue``)."""
    loaded = load_config(FLAGSHIP)
    strategy = build_strategy(loaded)
    client = make_emulator_client(sandbox.base_url, sandbox.api_key, sandbox.secret)
    feed = LiveMarketFeed(
        symbols=list(dict.fromkeys([*strategy.symbol_keys().values(),
                                    *strategy.benchmark_symbols()])),
        traded=strategy.traded_symbols(), data=loaded.run.data, base_dir=FLAGSHIP.parent,
        start=dt.date.fromisoformat(START), cache_dir=Path(sandbox.state_file or "/nonexistent"),
        exchange_label="emulator", make_client=lambda: client)
    decided = checked_decide(strategy, feed.history(now).truncate(now))
    return {f"{t:%Y-%m-%dT%H:%M:%SZ}": {str(s): float(w) for s, w in row.items()}
            for t, row in decided.weights.iterrows()}


def test_decisions_come_from_the_real_market_not_the_sandbox(
        runs: tuple[Path, Path], servers: tuple[EmulatorServer, FakeBinance]) -> None:
    backtest, live = (targets(f) for f in runs)
    common = sorted(set(backtest) & set(live))
    assert len(common) == len(live) >= 85
    for time in common:
        assert live[time] == pytest.approx(backtest[time], abs=1e-12), time
    # the sandbox is a market of its own: on its klines the strategy would rotate otherwise
    own = sandbox_decisions(servers[0], pd.Timestamp(max(live)))
    differ = [t for t in common if t in own and own[t] != pytest.approx(live[t], abs=1e-9)]
    assert differ, "the sandbox's klines should lead to other decisions"


def test_it_is_a_testnet_run_whose_orders_went_to_the_sandbox(
        runs: tuple[Path, Path], servers: tuple[EmulatorServer, FakeBinance]) -> None:
    sandbox, public = servers
    _backtest, live = runs
    manifest = json.loads((live / "manifest.json").read_text())
    assert manifest["mode"] == "testnet" and manifest["status"] == "finished"
    assert {o.get("exchange") for s, o in manifest["data"].items() if s != "RUT"} == {"binance"}
    account = sandbox.state()["accounts"][0]
    fills = query(live, "SELECT COUNT(*) AS n FROM fills")["n"][0]
    assert account["trades"] == fills >= 15  # every sandbox execution is journalled, once
    assert not [r for r in public.log if "order" in r["path"] or "account" in r["path"]]


def test_each_fill_journals_the_sandbox_and_the_real_price(runs: tuple[Path, Path]) -> None:
    _backtest, live = runs
    fills = query(live, "SELECT time, symbol, price, market_price FROM fills ORDER BY id")
    assert len(fills) >= 15
    assert fills["market_price"].notna().all()
    ratio = fills["price"] / fills["market_price"]
    after = pd.to_datetime(fills["time"]) >= pd.Timestamp(JUMP, tz="UTC")
    link = fills["symbol"] == "LINK/USDT"
    assert ((~after).sum() > 0) and ((after & ~link).sum() > 0)
    assert ratio[~after].to_numpy() == pytest.approx(1.0, abs=2e-3)  # spread only
    assert ratio[after & ~link].to_numpy() == pytest.approx(SCALE, rel=2e-3)
    trades = pd.read_csv(live / "trades.csv")
    assert trades["market_gap_bps"].to_numpy() == pytest.approx(
        ((ratio - 1) * 10_000).to_numpy(), rel=1e-9)
    metrics = json.loads((live / "metrics.json").read_text())
    assert metrics["market_priced_fills"] == len(fills)
    assert metrics["market_gap_bps"] > 1000


def test_the_public_client_sends_only_credential_free_gets(
        runs: tuple[Path, Path], servers: tuple[EmulatorServer, FakeBinance]) -> None:
    sandbox, public = servers
    log = list(public.log)
    assert len(log) >= 20
    allowed = {"/api/v3/exchangeInfo", "/api/v3/klines", "/api/v3/ticker/24hr",
               "/api/v3/ticker/price", "/api/v3/time"}
    for request in log:
        assert request["method"] == "GET" and not request["body"], request
        assert request["path"] in allowed, request
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert not [h for h in headers if "key" in h or "sign" in h or "auth" in h], headers
        assert not {"signature", "timestamp", "recvWindow"} & set(request["params"]), request
        text = json.dumps(request)
        assert sandbox.api_key not in text and sandbox.secret not in text


def test_keys_cannot_be_given_to_the_public_client() -> None:
    for attempt in ("live.market_data_api_key=abc", "live.market_data.api_key_env=X",
                    "live.market_data_url=http://user:secret@127.0.0.1:9",
                    "live.market_data_url=https://api.binance.com"):
        with pytest.raises(ConfigError):
            load_config(FLAGSHIP, ["broker.mode=testnet", attempt])


@pytest.fixture
def public(servers: tuple[EmulatorServer, FakeBinance]) -> FakeBinance:
    return servers[1]


def refused(call: Callable[[], Any], public: FakeBinance) -> str:
    """``call()`` raises before anything reaches the public server; the refusal's text."""
    before = len(public.log)
    with pytest.raises(ccxt.NotSupported) as error:
        call()
    assert len(public.log) == before
    return str(error.value)


def test_the_public_client_refuses_anything_but_public_reads(public: FakeBinance) -> None:
    client = public_client("binance", base_url=public.base_url)
    client.load_markets()
    assert client.fetch_ohlcv("BTC/USDT", "1d", limit=2)
    # a non-allow-listed path
    client.urls["api"]["public"] = public.base_url + "/sapi/v1"
    assert "public endpoints" in refused(lambda: client.fetch_ticker("BTC/USDT"), public)
    client.urls["api"]["public"] = public.base_url + "/api/v3"
    # a write, even on a public path ccxt defines
    assert "not a read" in refused(lambda: client.request("ping", ["public"], "POST"), public)
    # private endpoints, with keys set on the client afterwards
    client.apiKey, client.secret = KEY, SECRET
    assert refused(lambda: client.fetch_balance(), public)
    assert "key was set" in refused(lambda: client.fetch_ticker("BTC/USDT"), public)
    with pytest.raises(BrokerRejected, match="loopback"):
        public_client("binance", base_url="http://api.binance.com\\@127.0.0.1:1")


def test_the_report_shows_the_gap(runs: tuple[Path, Path]) -> None:
    from papertrade.report.html import render_report

    page = render_report(runs[1], "")
    assert "<th>real price</th>" in page and "<th>gap (bps)</th>" in page
    assert 'data-key="market_gap_bps"' in page


def test_bybits_public_client_is_guarded_the_same_way() -> None:
    """No network: every call below is refused before a connection."""
    client = public_client("bybit")
    allowed = {u.removeprefix("https://api.bybit.com/") for u in
               client.session.get_adapter("https://api.bybit.com").allowed}
    assert {"v5/market/kline", "v5/market/tickers", "v5/market/instruments-info"} <= allowed
    private = {p for method in client.api["private"].values() for p in method}
    only_private = private - set(client.api["public"]["get"])  # a few are both (signed or not)
    assert only_private and not only_private & allowed
    client.apiKey, client.secret = KEY, SECRET
    with pytest.raises(ccxt.NotSupported, match="key was set"):
        client.fetch_ohlcv("BTC/USDT", "1d")
    client.apiKey = client.secret = ""
    client.urls["api"]["public"] = "https://api.bybit.com/private"
    with pytest.raises(ccxt.NotSupported, match="not one of bybit's public endpoints"):
        client.fetch_ohlcv("BTC/USDT", "1d")
