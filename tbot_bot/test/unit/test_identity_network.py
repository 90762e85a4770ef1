"""Identity and network config rules (web_runtime §7)."""

from __future__ import annotations

import pytest

from tbot_bot.config.identity import BotIdentity, NetworkConfig
from tbot_bot.errors import ConfigError


def test_identity_is_trimmed_upper_cased_and_joined() -> None:
    identity = BotIdentity.from_codes(" rigd ", "usa", "alpaca", "b01")
    assert identity.string == "RIGD_USA_ALPACA_B01"
    assert BotIdentity.from_record(identity.to_record()) == identity


@pytest.mark.parametrize(
    ("codes", "bad_key"),
    [
        (("R", "USA", "ALPACA", "B01"), "ENTITY_CODE"),
        (("RIGD", "U5A", "ALPACA", "B01"), "JURISDICTION_CODE"),
        (("RIGD", "USA", "ALP_ACA", "B01"), "BROKER_CODE"),
        (("RIGD", "USA", "ALPACA", "B-1"), "BOT_ID"),
        (("RIGD", "USA", "ALPACA", "../"), "BOT_ID"),
    ],
)
def test_each_bad_code_is_named(codes: tuple[str, str, str, str], bad_key: str) -> None:
    with pytest.raises(ConfigError) as info:
        BotIdentity.from_codes(*codes)
    assert bad_key in str(info.value)


def test_all_bad_codes_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        BotIdentity.from_codes("x", "y", "z", "!")
    assert len(info.value.problems) == 4


def test_stored_join_must_match() -> None:
    record = BotIdentity.from_codes("RIGD", "USA", "ALPACA", "B01").to_record()
    record["BOT_IDENTITY_STRING"] = "RIGD_USA_TRADIER_B01"
    with pytest.raises(ConfigError, match="does not equal"):
        BotIdentity.from_record(record)


def test_network_defaults_and_rules() -> None:
    config = NetworkConfig.from_record({"LOCAL_IP": "0.0.0.0", "LOCAL_PORT": "8080"})
    assert config.local_port == 8080
    assert config.remote_port == 8080
    assert NetworkConfig.from_record(config.to_record()) == config


@pytest.mark.parametrize(
    ("record", "key"),
    [
        ({"LOCAL_IP": "localhost"}, "LOCAL_IP"),
        ({"LOCAL_PORT": 80}, "LOCAL_PORT"),
        ({"LOCAL_PORT": "abc"}, "LOCAL_PORT"),
        ({"REMOTE_IP": "bad host!"}, "REMOTE_IP"),
        ({"REMOTE_PORT": 70000}, "REMOTE_PORT"),
        ({"REMOTE_SCHEME": "ftp"}, "REMOTE_SCHEME"),
        ({"EXTRA": 1}, "EXTRA"),
    ],
)
def test_network_bad_values_are_named(record: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        NetworkConfig.from_record(record)
    assert key in str(info.value)
