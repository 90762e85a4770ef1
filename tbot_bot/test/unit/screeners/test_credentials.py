"""The screener_api secret: spec §10 field format, validation, the audited setter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError
from tbot_bot.screeners.credentials import (
    FIELDS,
    load_provider_entries,
    parse_provider_entries,
    set_provider_credentials,
)

SECRET_KEY = "finnhub-test-key-123"


@pytest.fixture
def paths(tbot_home: Path) -> RuntimePaths:
    paths = RuntimePaths.for_home()
    SecretsManager(paths).ensure_key("screener_api")
    return paths


def test_setter_writes_exactly_the_spec_fields(paths: RuntimePaths) -> None:
    slot = set_provider_credentials(paths, "FINNHUB", SECRET_KEY, actor="cli:alice")
    stored = SecretsManager(paths).load("screener_api")
    assert slot == "01"
    assert set(stored) == {f"{name}_01" for name in FIELDS}
    assert stored["PROVIDER_01"] == "FINNHUB"
    assert stored["SCREENER_API_KEY_01"] == SECRET_KEY
    assert stored["UNIVERSE_ENABLED_01"] == "true"
    assert paths.secret_file("screener_api").read_bytes().find(SECRET_KEY.encode()) == -1


def test_setter_is_audited_without_the_key(paths: RuntimePaths) -> None:
    set_provider_credentials(paths, "FINNHUB", SECRET_KEY, actor="cli:alice")
    lines = paths.global_log("security_users.log").read_text().splitlines()
    record = json.loads(lines[-1])
    assert record["event"] == "screener_credentials_set"
    assert record["user"] == "cli:alice"
    assert "FINNHUB" in record["message"]
    assert record["extra"]["slot"] == "01"
    assert SECRET_KEY not in "\n".join(lines)


def test_update_keeps_the_slot_and_a_second_provider_gets_the_next(paths: RuntimePaths) -> None:
    set_provider_credentials(paths, "FINNHUB", "first-key", actor="t")
    assert set_provider_credentials(paths, "BROKER", "", actor="t") == "02"
    assert set_provider_credentials(paths, "FINNHUB", "second-key", actor="t") == "01"
    entries = load_provider_entries(paths)
    assert [(e.slot, e.provider) for e in entries] == [("01", "FINNHUB"), ("02", "BROKER")]
    assert entries[0].api_key == "second-key"
    assert "second-key" not in repr(entries[0])


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("YAHOO", "not available in v1"),
        ("NASDAQ", "reserved"),
        ("NYSE", "reserved"),
        ("LOCAL_FILE", "UNIVERSE_LOCAL_FILE"),
        ("ACME", "unknown provider"),
    ],
)
def test_setter_refuses_other_providers(paths: RuntimePaths, provider: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        set_provider_credentials(paths, provider, "k", actor="t")


def test_finnhub_needs_a_key(paths: RuntimePaths) -> None:
    with pytest.raises(ConfigError, match="API key"):
        set_provider_credentials(paths, "FINNHUB", "  ", actor="t")


def test_setter_needs_the_provisioned_key(tbot_home: Path) -> None:
    with pytest.raises(ConfigError, match="screener_api"):
        set_provider_credentials(RuntimePaths.for_home(), "FINNHUB", "k", actor="t")


def test_parser_reports_every_problem_together() -> None:
    with pytest.raises(ConfigError) as info:
        parse_provider_entries(
            {
                "PROVIDER_01": "FINNHUB",
                "SCREENER_API_KEY_01": "",
                "UNIVERSE_ENABLED_01": "maybe",
                "PROVIDER_02": "NYSE",
                "API_KEY": "x",
            }
        )
    problems = "\n".join(info.value.problems)
    assert "unknown key 'API_KEY'" in problems
    assert "UNIVERSE_ENABLED_01" in problems
    assert "SCREENER_API_KEY_01" in problems
    assert "reserved" in problems


def test_entries_sorted_by_priority_and_empty_home_has_none(tbot_home: Path) -> None:
    entries = parse_provider_entries(
        {
            "PROVIDER_01": "BROKER",
            "PRIORITY_01": "5",
            "PROVIDER_02": "FINNHUB",
            "SCREENER_API_KEY_02": "k",
            "PRIORITY_02": "1",
            "ENRICHMENT_ENABLED_02": "false",
        }
    )
    assert [e.provider for e in entries] == ["FINNHUB", "BROKER"]
    assert entries[0].enrichment_enabled is False
    assert load_provider_entries(RuntimePaths.for_home()) == []
