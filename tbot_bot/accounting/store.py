"""Creation of the three ledger files of one bot (accounting spec §1.1, §1.2).

`create_ledgers` is the idempotent initializer the web bootstrap and `tbot demo` call: it runs
the migrations, seeds COA 1.0.0, mapping version 1, meta rows, the first ACTIVE status row, the
currencies and the default float policy, and returns with every connection closed (it holds no
lock afterwards). Paths come only from the `BotOutputs` it is given.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from tbot_bot.accounting import coa, mapping
from tbot_bot.accounting.codec import canonical_text
from tbot_bot.accounting.schema import apply_migrations, connect, schema_version, transaction
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.clock import Clock, SystemClock, iso_utc
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, ensure_dir
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs
from tbot_bot.errors import LedgerError

SYSTEM_ACTOR = "system:accounting"
COMPLIANCE_FLAGS = {
    "gdpr": False,
    "ccpa": False,
    "pipeda": False,
    "hipaa": False,
    "iso27001": False,
    "soc2": False,
}


def ledger_paths(outputs: BotOutputs) -> dict[str, Path]:
    return {kind: outputs.ledger_db(kind) for kind in ("coa", "ledger", "float")}


def identity_meta(identity: BotIdentity, kind: str, currency: str) -> dict[str, str]:
    return {
        "db_kind": kind,
        "schema_version": str(schema_version(kind)),
        "bot_identity": identity.string,
        "entity_code": identity.entity_code,
        "jurisdiction_code": identity.jurisdiction_code,
        "broker_code": identity.broker_code,
        "bot_id": identity.bot_id,
        "base_currency": currency,
    }


def create_ledgers(
    outputs: BotOutputs,
    identity: BotIdentity,
    *,
    currency: str = "USD",
    clock: Clock | None = None,
) -> None:
    """Create (or finish creating) the COA, ledger and FLOAT files; safe to call again."""
    if outputs.identity != identity.string:
        raise LedgerError(
            f"output tree is for {outputs.identity!r} but the identity is {identity.string!r}"
        )
    if currency not in coa.CURRENCIES:
        raise LedgerError(f"currency {currency!r} is not one of {sorted(coa.CURRENCIES)}")
    now = iso_utc((clock or SystemClock()).now_utc())
    ensure_dir(outputs.root, OUTPUT_DIR_MODE)
    ensure_dir(outputs.ledgers_dir, OUTPUT_DIR_MODE)
    paths = ledger_paths(outputs)
    with contextlib.closing(_open_new(paths["coa"])) as coa_conn:
        apply_migrations(coa_conn, "coa", actor=SYSTEM_ACTOR, now_text=now)
        _seed_coa_file(coa_conn, identity, currency, now)
        with contextlib.closing(_open_new(paths["ledger"])) as ledger_conn:
            apply_migrations(ledger_conn, "ledger", actor=SYSTEM_ACTOR, now_text=now)
            _seed_ledger_file(ledger_conn, identity, currency, now)
            coa.sync_mirror(coa_conn, ledger_conn, actor=SYSTEM_ACTOR, now=now)
    with contextlib.closing(_open_new(paths["float"])) as float_conn:
        apply_migrations(float_conn, "float", actor=SYSTEM_ACTOR, now_text=now)
        _seed_float_file(float_conn, identity, currency, now)


def _open_new(path: Path) -> sqlite3.Connection:
    existed = path.exists()
    conn = connect(path)
    if not existed:
        path.chmod(OUTPUT_FILE_MODE)
    return conn


def _check_identity(found: dict[str, str], identity: BotIdentity, path: str) -> None:
    if found.get("bot_identity", identity.string) != identity.string:
        raise LedgerError(
            f"{path} belongs to {found.get('bot_identity')!r}, not {identity.string!r}"
        )


def _seed_coa_file(
    conn: sqlite3.Connection, identity: BotIdentity, currency: str, now: str
) -> None:
    meta = coa.read_metadata(conn)
    if meta is not None:
        joined = "_".join(
            str(meta[k]) for k in ("entity_code", "jurisdiction_code", "broker_code", "bot_id")
        )
        _check_identity({"bot_identity": joined}, identity, "COA file")
        return
    with transaction(conn):
        coa.seed_currencies(conn)
        coa.seed_coa(conn, identity, currency, actor=SYSTEM_ACTOR, now=now)
        mapping.seed_mapping(conn, coa_version=coa.TEMPLATE_VERSION, actor=SYSTEM_ACTOR, now=now)
        from tbot_bot.accounting import audit  # local: audit imports nothing from here

        audit.append(
            conn,
            "coa_audit_log",
            ts_utc=now,
            event_type="COA_PUBLISHED",
            actor=SYSTEM_ACTOR,
            related_table="coa_versions",
            related_id=coa.TEMPLATE_VERSION,
            reason="COA template 1.0.0 and mapping version 1",
        )


def _seed_ledger_file(
    conn: sqlite3.Connection, identity: BotIdentity, currency: str, now: str
) -> None:
    found = dict(conn.execute(sql("ledger_write", "select_meta")).fetchall())
    _check_identity(found, identity, "ledger file")
    if found:
        return
    meta = identity_meta(identity, "ledger", currency)
    meta.update(
        {
            "created_at_utc": now,
            "coa_version_at_creation": coa.TEMPLATE_VERSION,
            "fee_policy": "expense",
            "lot_method": "FIFO",
            "compliance_flags": canonical_text(COMPLIANCE_FLAGS),
        }
    )
    with transaction(conn):
        coa.seed_currencies(conn)
        for key, value in meta.items():
            conn.execute(
                sql("ledger_write", "insert_meta"),
                {"key": key, "value": value, "set_at_utc": now, "set_by": SYSTEM_ACTOR},
            )
        conn.execute(
            sql("ledger_write", "insert_status"),
            {"status": "ACTIVE", "at_utc": now, "actor": SYSTEM_ACTOR, "reason": "created"},
        )


def _seed_float_file(
    conn: sqlite3.Connection, identity: BotIdentity, currency: str, now: str
) -> None:
    found = dict(conn.execute(sql("float", "select_meta")).fetchall())
    _check_identity(found, identity, "FLOAT file")
    if found:
        return
    meta = identity_meta(identity, "float", currency)
    meta["created_at_utc"] = now
    with transaction(conn):
        coa.seed_currencies(conn)
        for key, value in meta.items():
            conn.execute(
                sql("float", "insert_meta"),
                {"key": key, "value": value, "set_at_utc": now, "set_by": SYSTEM_ACTOR},
            )
        conn.execute(
            sql("float", "insert_policy"),
            {
                "effective_from_utc": now,
                "source": "env_bot",
                "set_by": SYSTEM_ACTOR,
                "reason": "default policy at creation",
            },
        )
