"""`tbot ledger verify|export` glue (accounting spec §8.5, §9): exit codes and outputs (export
goes through the request channel, web_runtime §1.3)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from tbot_bot.accounting import create_ledgers
from tbot_bot.accounting.cli import cmd_verify
from tbot_bot.accounting.schema import connect
from tbot_bot.clock import FakeClock
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.runtime.ledger_cli import cmd_export
from tbot_bot.test.unit.accounting.builders import T0


@pytest.fixture
def provisioned(
    tbot_home: Path, paths: RuntimePaths, identity: BotIdentity, outputs: BotOutputs
) -> Path:
    secrets = SecretsManager(paths)
    secrets.ensure_key("bot_identity")
    secrets.save("bot_identity", identity.to_record())
    create_ledgers(outputs, identity, clock=FakeClock(T0))
    return tbot_home


def _args(home: Path, **extra: object) -> argparse.Namespace:
    return argparse.Namespace(
        home=str(home),
        deep=False,
        format="ofx",
        from_day="2025-07-15",
        to_day="2025-07-16",
        **extra,
    )


def _run(command, args: argparse.Namespace) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    out, err = io.StringIO(), io.StringIO()
    code = command(args, out, err)
    return code, out.getvalue(), err.getvalue()


def test_verify_exit_codes(provisioned: Path, outputs: BotOutputs) -> None:
    assert _run(cmd_verify, _args(provisioned)) == (0, "ledger verify: no issues\n", "")
    conn = connect(outputs.ledger_db("ledger"))
    try:  # a queued record is a warning (UNMAPPED_PENDING)
        conn.execute(
            "INSERT INTO raw_broker_records (broker_code, record_kind, response_hash, payload_json,"
            " fetched_at_utc) VALUES ('ALPACA', 'activity', ?, '{}', '2025-07-15T14:00:00.000Z')",
            ("a" * 64,),
        )
        conn.execute(
            "INSERT INTO unmapped_queue (raw_record_id, reason_code, reason, mapping_version,"
            " flagged_at_utc) VALUES (1, 'unmapped', 'test', 1, '2025-07-15T14:00:00.000Z')"
        )
    finally:
        conn.close()
    code, out, _ = _run(cmd_verify, _args(provisioned))
    assert code == 2 and "UNMAPPED_PENDING" in out
    conn = connect(outputs.ledger_db("ledger"))
    try:
        conn.execute("DROP TRIGGER le_sealed")
    finally:
        conn.close()
    code, out, _ = _run(cmd_verify, _args(provisioned))
    assert code == 1 and "TRIGGER_MISSING" in out


def test_verify_without_an_identity_is_an_error(tbot_home: Path) -> None:
    code, _, err = _run(cmd_verify, _args(tbot_home))
    assert code == 2 and "ledger verify failed" in err


def test_export_writes_each_day(provisioned: Path, outputs: BotOutputs) -> None:
    code, out, err = _run(cmd_export, _args(provisioned))
    assert (code, err) == (0, "")
    names = sorted(Path(line).name for line in out.splitlines())
    assert names == sorted(
        f"TEST_USA_ALPACA_01_BOT_{stem}_{day}.{ext}"
        for day in ("20250715", "20250716")
        for stem, ext in (
            ("statement", "ofx"),
            ("trial_balance", "csv"),
            ("export_manifest", "json"),
        )
    )
    assert (outputs.exports_root / "20250716").is_dir()
    backwards = argparse.Namespace(
        home=str(provisioned), deep=False, format="ofx", from_day="2025-07-16", to_day="2025-07-15"
    )
    code, _, err = _run(cmd_export, backwards)
    assert code == 2 and "ascending" in err
