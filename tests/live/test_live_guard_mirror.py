"""``broker.testnet_url``: the testnet's API served by a loopback mirror (the emulator in tests).

The mirror changes where the sandbox client connects, never what it is: ccxt's client of the
exchange in sandbox mode, built and checked by the same guard as on the real sandbox, with
every URL moved to the loopback host. Anything else is refused before a request: a mirror URL
that is not loopback (a mainnet host, the real sandbox host, a remote address, a userinfo
trick), at the config (one line, exit 2) and at the broker; a URL changed on the client after
the broker started.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_live_guard import KEYS, assert_url_change_refused, guarded, one_line_error

from papertrade.brokers.ccxt_exchange import CcxtBroker
from papertrade.brokers.ccxt_sandbox import resolved_urls, sandbox_mirror
from papertrade.config import load_config
from papertrade.errors import BrokerRejected, ConfigError
from tests.conftest import FLAGSHIP

MIRROR = "http://127.0.0.1:9"  # nothing listens: every test here must refuse before sending


@pytest.mark.parametrize("url", ["https://api.binance.com", "https://testnet.binance.vision",
                                 "http://203.0.113.7:8080",
                                 "http://api.binance.com\\@127.0.0.1:1"],
                         ids=["mainnet", "sandbox-host", "remote", "userinfo"])
def test_a_non_loopback_mirror_is_refused_by_the_config(url: str) -> None:
    with pytest.raises(ConfigError, match="not a loopback address") as refused:
        load_config(FLAGSHIP, ["broker.mode=testnet", f"broker.testnet_url={url}"])
    assert "broker.testnet_url" in str(refused.value)


def test_a_mainnet_mirror_is_refused_before_any_request(tmp_path: Path) -> None:
    result, network = guarded(tmp_path, "live", str(FLAGSHIP), "--once",
                              "--set", "broker.mode=testnet",
                              "--set", "broker.testnet_url=https://api.binance.com", env=KEYS)
    line = one_line_error(result)
    assert "broker.testnet_url" in line and "loopback" in line
    assert network == []


@pytest.mark.parametrize("url", ["https://api.binance.com", "https://testnet.binance.vision",
                                 "http://127.0.0.1:1/api"])
def test_the_broker_refuses_a_non_loopback_mirror(url: str) -> None:
    with pytest.raises(BrokerRejected, match="not a loopback"):
        CcxtBroker.for_testnet("binance", "k" * 24, "s" * 24, "USDT", mirror_url=url)


def test_the_mirrored_client_is_the_sandbox_client_on_loopback() -> None:
    client = sandbox_mirror("binance", "k" * 24, "s" * 24, MIRROR)
    assert client.isSandboxModeEnabled
    urls = resolved_urls(client)
    assert urls and {urlsplit(u).netloc for _, u in urls} == {"127.0.0.1:9"}
    assert dict(urls)["private"] == MIRROR + "/api/v3"  # the sandbox's own path, on the mirror
    # Binance's spot error codes apply on the mirror's host too
    assert client.exceptions["exact"]["-2010"] is not None


def test_a_url_changed_after_start_is_refused_before_any_request() -> None:
    assert_url_change_refused(CcxtBroker.for_testnet("binance", "k" * 24, "s" * 24, "USDT",
                                                     mirror_url=MIRROR))


def test_a_mirror_without_keys_is_refused_like_the_sandbox() -> None:
    with pytest.raises(BrokerRejected, match="needs an API key") as refused:
        CcxtBroker.for_testnet("binance", "", "", "USDT", mirror_url=MIRROR)
    assert refused.value.kind == "auth"
