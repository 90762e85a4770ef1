"""`tbot universe show|build|status` glue on a provisioned temporary home."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

import pytest

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.config.settings_schema import default_settings_record
from tbot_bot.errors import ConfigError
from tbot_bot.screeners.cli import cmd_universe, register
from tbot_bot.screeners.store import UniverseFiles
from tbot_bot.test.unit.screeners.helpers import (
    AFTER_CLOSE,
    DURING_SESSION,
    local_row,
    write_local_csv,
)


@pytest.fixture
def home(tbot_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RuntimePaths:
    data = tmp_path / "data"
    monkeypatch.setenv("TBOT_DATA_DIR", str(data))
    write_local_csv(
        data / "u.csv",
        [local_row("AAA", cap="5000000000"), local_row("BBB"), local_row("CCC", price="1")],
    )
    paths = RuntimePaths.for_home()
    manager = SecretsManager(paths)
    manager.ensure_key("env")
    manager.save("env", {**default_settings_record("SIM"), "UNIVERSE_LOCAL_FILE": "u.csv"})
    return paths


def run(*argv: str, at: datetime = AFTER_CLOSE) -> int:
    parser = argparse.ArgumentParser(prog="tbot")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home")
    register(parser.add_subparsers(dest="command"), common)
    args = parser.parse_args(["universe", *argv])
    return int(cmd_universe(args, clock=FakeClock(at)))


def test_build_then_status_and_show(home: RuntimePaths, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("status") == 1  # nothing built yet
    capsys.readouterr()
    assert run("build") == 0
    out = capsys.readouterr().out
    assert "published" in out
    assert "raw=3" in out
    assert run("status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["status"], status["symbols"], status["last_failure"]) == ("ok", 2, None)
    assert run("show", "--limit", "1") == 0
    shown = capsys.readouterr().out
    assert "AAA" in shown and "BBB" not in shown


def test_build_is_refused_while_the_market_is_open(
    home: RuntimePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("build", at=DURING_SESSION) == 1
    assert "refused" in capsys.readouterr().out
    assert not UniverseFiles(home).published.exists()


def test_refilter_and_json_show(home: RuntimePaths, capsys: pytest.CaptureFixture[str]) -> None:
    run("build")
    capsys.readouterr()
    assert run("build", "--refilter", "--json") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "published"
    assert run("show", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [s["symbol"] for s in document["symbols"]] == ["AAA", "BBB"]


def test_placeholder_rest_arguments_are_accepted(home: RuntimePaths) -> None:
    args = argparse.Namespace(home=None, rest=["status"])
    assert cmd_universe(args, clock=FakeClock(AFTER_CLOSE)) == 1
    with pytest.raises(ConfigError, match="show, build, status"):
        cmd_universe(argparse.Namespace(home=None, rest=["explode"]))
