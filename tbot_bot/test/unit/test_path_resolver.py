"""The path resolver builds every path inside the home, with the seed's exact names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir, resolve_home, safe_component
from tbot_bot.errors import ConfigError, PathError

ID = "RIGD_USA_ALPACA_B01"


def test_home_comes_from_tbot_home(tbot_home: Path) -> None:
    assert resolve_home() == tbot_home.resolve()
    assert RuntimePaths.for_home("/tmp/elsewhere").home == Path("/tmp/elsewhere").resolve()


def test_seed_file_names_exactly(tbot_home: Path) -> None:
    out = RuntimePaths.for_home().bot_outputs(ID)
    root = tbot_home / "tbot_bot" / "output" / ID
    assert out.root == root
    assert out.log_file("open.log") == root / "logs" / "open.log"
    assert out.log_file("unresolved_orders.log") == root / "logs" / "unresolved_orders.log"
    assert out.ledger_db("coa") == root / "ledgers" / f"{ID}_BOT_COA.db"
    assert out.ledger_db("ledger") == root / "ledgers" / f"{ID}_BOT_ledger.db"
    assert out.ledger_db("float") == root / "ledgers" / f"{ID}_BOT_FLOAT_ledger.db"
    assert out.daily_summary == root / "summaries" / f"{ID}_BOT_daily_summary.json"
    assert out.trade_history("csv") == root / "trades" / f"{ID}_BOT_trade_history.csv"
    assert out.trade_history("json") == root / "trades" / f"{ID}_BOT_trade_history.json"


def test_storage_layout(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home()
    keys = tbot_home / "tbot_bot" / "storage" / "keys"
    assert paths.key_file("env") == keys / "env.key"
    assert paths.key_file("screener_api") == keys / "screener_api.key"
    secrets = tbot_home / "tbot_bot" / "storage" / "secrets"
    assert paths.secret_file("env") == secrets / ".env_bot.enc"
    assert paths.secret_file("bot_identity") == secrets / "bot_identity.json.enc"
    assert paths.secret_file("network_config") == secrets / "network_config.json.enc"
    dbs = tbot_home / "tbot_bot" / "core" / "databases"
    assert paths.core_db("SYSTEM_USERS.db") == dbs / "SYSTEM_USERS.db"
    assert paths.state_db(ID) == tbot_home / "tbot_bot/output/state" / f"{ID}_BOT_STATE.db"


def test_backtest_outputs_never_touch_production(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home()
    out = paths.backtest_outputs("20250715T120000Z-abcdef12", "BTEST_USA_SIM_01")
    assert out.root == tbot_home / "tbot_bot/output/trades/backtest/20250715T120000Z-abcdef12"
    assert paths.identity_dir("BTEST_USA_SIM_01") not in out.ledger_db("ledger").parents


@pytest.mark.parametrize(
    "identity",
    [
        "../evil",
        "/etc/passwd",
        "RIGD_USA_ALPACA",
        "rigd_usa_alpaca_b01",
        "RIGD_USA_ALP ACA_B01",
        "RIGD_USA_ALPACA_B01/..",
        "RIGD_USA_ALPACA_B01\x00",
        "RIGD_USA_ALPACA_TOOLONGID",
        "",
    ],
)
def test_bad_identity_strings_are_refused(identity: str) -> None:
    with pytest.raises(ConfigError):
        RuntimePaths.for_home().bot_outputs(identity)


@pytest.mark.parametrize(
    "name", ["..", "../x", "/abs", "a/b", "a\\b", ".hidden", "x\n", "ü", "", "a" * 200, "x..y"]
)
def test_odd_components_are_refused(name: str) -> None:
    with pytest.raises(PathError):
        safe_component(name)


@pytest.mark.parametrize("relative", ["../outside.txt", "/etc/passwd", "output/../../x", ""])
def test_configured_paths_cannot_escape(relative: str) -> None:
    with pytest.raises(PathError):
        RuntimePaths.for_home().under_bot_root(relative)


def test_configured_path_inside_is_resolved(tbot_home: Path) -> None:
    path = RuntimePaths.for_home().under_bot_root("output/screeners/screener_blocklist.txt")
    assert path == tbot_home / "tbot_bot/output/screeners/screener_blocklist.txt"


def test_data_set_names_cannot_escape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TBOT_DATA_DIR", str(tmp_path / "data"))
    assert data_set_dir("synthetic/demo") == (tmp_path / "data/synthetic/demo").resolve()
    for bad in ("../x", "/etc", "a/../../b"):
        with pytest.raises(PathError):
            data_set_dir(bad)


def test_unknown_names_are_refused() -> None:
    paths = RuntimePaths.for_home()
    with pytest.raises(PathError):
        paths.key_file("master")
    with pytest.raises(PathError):
        paths.core_db("OTHER.db")
    with pytest.raises(PathError):
        paths.bot_outputs(ID).log_file("debug.log")
