"""The broker registry: names, lazy imports, unknown names, duplicates, credentials."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from tbot_bot.broker.registry import (
    BROKER_FACTORIES,
    build_registry,
    create_broker,
    known_broker_names,
    load_broker_credentials,
)
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError, LogicError
from tbot_bot.market.bars import Bar

T0 = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)


def test_registry_maps_each_name_to_its_adapter_module() -> None:
    assert dict(BROKER_FACTORIES) == {
        "ALPACA": "tbot_bot.broker.alpaca.adapter:create",
        "IBKR": "tbot_bot.broker.ibkr.adapter:create",
        "TRADIER": "tbot_bot.broker.tradier.adapter:create",
        "SIM": "tbot_bot.broker.sim.adapter:create",
    }
    assert known_broker_names() == ["ALPACA", "IBKR", "SIM", "TRADIER"]


def test_unknown_broker_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        create_broker("FOO", {}, settings=None, clock=FakeClock(T0))
    message = str(info.value)
    assert "BROKER_NAME='FOO'" in message
    assert "ALPACA, IBKR, SIM, TRADIER" in message


def test_duplicates_and_malformed_targets_are_refused() -> None:
    with pytest.raises(LogicError, match="registered twice"):
        build_registry([("SIM", "a.b:create"), ("SIM", "c.d:create")])
    with pytest.raises(LogicError, match="module:function"):
        build_registry([("SIM", "a.b.create")])
    with pytest.raises(TypeError):
        BROKER_FACTORIES["FOO"] = "x:y"  # type: ignore[index]


def test_sim_is_created_by_name_with_settings() -> None:
    bars = [Bar("MSFT", T0 + timedelta(minutes=i), *(Decimal(100),) * 4, 1000) for i in range(5)]
    settings = SimpleNamespace(ACCOUNT_BALANCE=Decimal("2500.00"), SIM_SPREAD_BPS=10)
    broker = create_broker(
        " sim ", {}, settings=settings, clock=FakeClock(T0), replay=ListReplay(bars)
    )
    assert isinstance(broker, SimBroker) and broker.name == "SIM"
    assert broker.get_account().cash == Decimal("2500.00")
    with pytest.raises(ConfigError, match="unknown option"):
        create_broker("SIM", {}, settings=settings, clock=FakeClock(T0), replay=None, speed=2)


def test_sim_without_a_replay_names_the_missing_data_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TBOT_DATA_DIR", str(tmp_path / "data"))
    settings = SimpleNamespace(SIM_DATA_SET="synthetic/none_here")
    with pytest.raises(ConfigError, match="SIM_DATA_SET='synthetic/none_here'"):
        create_broker("SIM", {}, settings=settings, clock=FakeClock(T0))


def test_importing_the_registry_imports_no_broker_sdk() -> None:
    code = (
        "import sys, tbot_bot.broker.registry\n"
        "bad = [m for m in ('alpaca', 'ib_async', 'tbot_bot.broker.alpaca.adapter',"
        " 'tbot_bot.broker.ibkr.adapter', 'tbot_bot.broker.tradier.adapter') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_credentials_come_from_the_broker_category(tbot_home: Path) -> None:
    secrets = SecretsManager(RuntimePaths.for_home(tbot_home))
    secrets.ensure_key("broker")
    secrets.save("broker", {"API_KEY": "fake-key-for-tests", "API_SECRET": "fake-secret-xyz"})
    assert load_broker_credentials(secrets) == {
        "API_KEY": "fake-key-for-tests",
        "API_SECRET": "fake-secret-xyz",
    }
