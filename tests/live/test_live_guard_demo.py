"""``broker.mode: demo``: the testnet's mainnet guard applied to ccxt's demo-trading URLs.

No network: every check runs on the URLs the installed ccxt itself exposes (``urls['demo']``
for binance, ``urls['demotrading']`` for bybit); requests are caught by a transport that
records and refuses them, and the ``--check`` run goes through the audit-hooked subprocess of
the guard tests.
"""

from __future__ import annotations

from pathlib import Path

import ccxt  # noqa: TID251 - the tests drive a real ccxt client
import pytest
from test_live_guard import KEYS, assert_url_change_refused, guarded, one_line_error

from papertrade.brokers.ccxt_demo import demo_client, demo_exchanges, guard_demo
from papertrade.brokers.ccxt_exchange import CcxtBroker
from papertrade.brokers.ccxt_sandbox import resolved_urls
from papertrade.errors import BrokerRejected
from tests.conftest import FLAGSHIP


def ccxt_demo_urls(exchange_id: str) -> set[str]:
    """The demo URLs as ccxt's class spells them, ``{hostname}`` filled in."""
    client = getattr(ccxt, exchange_id)()
    raw = client.urls.get("demo") or client.urls.get("demotrading")
    return {url.replace("{hostname}", client.hostname or "") for url in raw.values()}


@pytest.mark.parametrize("exchange_id", ["binance", "bybit"])
def test_the_guard_accepts_ccxts_own_demo_urls(exchange_id: str) -> None:
    client = demo_client(exchange_id, "k", "s")
    urls = {url for _key, url in resolved_urls(client)}
    assert urls and urls <= ccxt_demo_urls(exchange_id)
    production = {url for _key, url in resolved_urls(getattr(ccxt, exchange_id)())}
    assert not urls & production
    guard_demo(client)
    assert exchange_id in demo_exchanges()


@pytest.mark.parametrize(("exchange_id", "url"), [
    ("binance", "https://api.binance.com/api/v3"),          # mainnet
    ("binance", "https://testnet.binance.vision/api/v3"),  # the testnet is not the demo
    ("binance", "https://demo-api.binance.com.evil.example/api/v3"),
    ("bybit", "https://api.bybit.com"),
    ("bybit", "https://api-demo.bybit.com.example"),
])
def test_the_guard_refuses_any_other_url(exchange_id: str, url: str) -> None:
    client = demo_client(exchange_id, "k", "s")
    client.urls["api"]["public"] = url
    with pytest.raises(BrokerRejected, match="is not a demo URL"):
        guard_demo(client)


def test_a_url_changed_after_start_is_refused_before_any_request() -> None:
    assert_url_change_refused(CcxtBroker.for_demo("binance", "k" * 24, "s" * 24, "USDT"))


def test_demo_mode_off_or_sandbox_on_is_refused() -> None:
    client = demo_client("bybit", "k", "s")
    client.enable_demo_trading(False)
    with pytest.raises(BrokerRejected, match="demo trading off"):
        guard_demo(client)
    plain = ccxt.binance({"options": {"enableDemoTrading": True}})
    plain.set_sandbox_mode(True)
    with pytest.raises(BrokerRejected, match="sandbox mode on"):
        guard_demo(plain)


@pytest.mark.parametrize(("exchange_id", "reason"), [
    ("okx", "has no demo trading"), ("kraken", "has no demo trading"),
    ("bitget", "shares its production host"),
])
def test_exchanges_without_a_demo_host_of_their_own_are_refused(exchange_id: str,
                                                                 reason: str) -> None:
    with pytest.raises(BrokerRejected, match=reason):
        CcxtBroker.for_demo(exchange_id, "k", "s", "USDT")


def test_demo_on_an_exchange_without_one_is_refused_before_any_request(tmp_path: Path
                                                                      ) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--set", "broker.mode=demo",
                              "--set", "broker.exchange=okx", env=KEYS)
    assert "okx has no demo trading" in one_line_error(result)
    assert network == []


def test_check_reports_testnet_and_demo_support(tmp_path: Path) -> None:
    """Without keys ``--check`` stops at the static checks: nothing connects."""
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--check",
                              "--set", "broker.mode=demo")
    lines = result.stdout.splitlines()
    assert any(x.startswith("FAIL API key in $PAPERTRADE_API_KEY") and "(demo keys;" in x
               for x in lines), lines
    assert any(x.startswith("ok   binance demo: demo host demo-api.binance.com")
               for x in lines), lines
    assert any(x.startswith("ok   binance supports: testnet yes (sandbox host "
                            "testnet.binance.vision") and "demo yes (demo host" in x
               for x in lines), lines
    assert any(x.startswith("ok   signals (live.market_data mainnet): binance mainnet "
                            "public market data, key-less") for x in lines), lines
    result, _ = guarded(tmp_path, "live", str(FLAGSHIP), "--check", "--set", "broker.mode=demo",
                        "--set", "broker.exchange=okx", env=KEYS)
    assert "FAIL okx demo: okx has no demo trading" in result.stdout
    assert "FAIL okx supports: testnet no, demo no" in result.stdout
    assert network == []
