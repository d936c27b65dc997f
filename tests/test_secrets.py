"""Redaction by key name and by value (``papertrade.util.secrets``), and its use by the run
folder writer: real functions, real files, a real loguru sink."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from loguru import logger

from papertrade.runfolder import finish_manifest, manifest, write_config
from papertrade.util.secrets import (
    MASK,
    mask,
    masking_filter,
    redact,
    redact_config,
    secret_values,
)

PASTED = "pk" + secrets.token_hex(24)
TOKEN = "tk" + secrets.token_hex(24)
SECRET = "sc" + secrets.token_hex(24)


def test_manifest_masks_the_run_secrets_and_the_environment_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = {"broker": {"api_key_env": PASTED, "secret_env": "PT_TEST_SECRET_VALUE"}}
    monkeypatch.setenv("PT_TEST_SECRET_VALUE", SECRET)
    monkeypatch.setenv("PT_TEST_API_TOKEN", TOKEN)
    known = secret_values(raw)
    assert {PASTED, SECRET, TOKEN} <= known
    meta = manifest(tmp_path, name="run", config_file=f"configs/{TOKEN}.yaml", secrets=known)
    assert meta["config_file"] == f"configs/{MASK}.yaml"
    finish_manifest(tmp_path, meta, "failed", secrets=known,
                    error=f"ConfigError: environment variable {PASTED} is not set; {SECRET}")
    written = json.loads((tmp_path / "manifest.json").read_text())
    assert written["error"] == f"ConfigError: environment variable {MASK} is not set; {MASK}"
    assert written["status"] == "failed" and written["name"] == "run"
    # without the run's secrets, those of the environment are still masked
    finish_manifest(tmp_path, meta, "failed", error=f"auth failed for {TOKEN} / {SECRET}")
    text = (tmp_path / "manifest.json").read_text()
    assert TOKEN not in text and SECRET not in text
    assert f"auth failed for {MASK} / {MASK}" in text


def test_write_config_masks_by_key_and_by_value(tmp_path: Path) -> None:
    raw = {"name": "x", "broker": {"api_key_env": "MY_KEY", "secret_env": PASTED,
                                   "exchange": f"prefix-{SECRET}", "password": "pw"},
           "notes": [f"see {SECRET}"]}
    write_config(tmp_path, raw, secrets=secret_values(raw, {"MY_KEY": SECRET}))
    text = (tmp_path / "config.yaml").read_text()
    assert SECRET not in text and PASTED not in text and "pw" not in text
    assert "api_key_env: MY_KEY" in text and "name: x" in text
    assert f"exchange: prefix-{MASK}" in text and f"see {MASK}" in text


def test_secret_values_and_mask() -> None:
    env = {"BINANCE_API_SECRET": SECRET, "PT_EMULATOR_KEY": TOKEN, "HOME": "/root",
           "SHORT_TOKEN": "ab", "NAMED": "named-value"}
    raw = {"broker": {"api_key_env": "NAMED", "secret_env": "UNSET_VAR",
                      "emulator": {"api_key_env": PASTED}},
           "token": 12345678, "flag": True, "list": [{"private_key": "pkey-value"}]}
    assert secret_values(raw, env) == {SECRET, TOKEN, "named-value", PASTED, "12345678",
                                       "pkey-value"}
    nested = {"a": [f"x{SECRET}y", (TOKEN, 3)], TOKEN: None, "n": 1.5}
    assert mask(nested, {SECRET, TOKEN}) == {"a": [f"x{MASK}y", (MASK, 3)], MASK: None,
                                            "n": 1.5}
    assert mask("abcabc", {"abc", "abcabc"}) == MASK  # the longest secret first
    assert mask("text", set()) == "text"


def test_redact_masks_a_key_pasted_into_an_env_key_only() -> None:
    raw = {"api_key_env": "BINANCE_TESTNET_API_KEY", "secret_env": PASTED,
           "other_env": "lower_case", "api_key": "k", "empty_env": "", "quote": "USDT"}
    assert redact(raw) == {"api_key_env": "BINANCE_TESTNET_API_KEY", "secret_env": MASK,
                           "other_env": MASK, "api_key": MASK, "empty_env": "",
                           "quote": "USDT"}
    assert redact_config({"exchange": TOKEN}, {TOKEN}) == {"exchange": MASK}


def test_masking_filter_keeps_keys_out_of_a_log(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    sink = logger.add(log, filter=masking_filter({SECRET}), format="{message}")
    try:
        logger.warning("auth failed with {} for {}", SECRET, "acct")
    finally:
        logger.remove(sink)
    assert log.read_text().strip() == f"auth failed with {MASK} for acct"
