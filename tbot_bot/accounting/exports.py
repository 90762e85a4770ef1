"""Daily export packages (accounting spec §9): OFX, trial balance, ledger trades, manifest.

Preconditions: `verify()` has no errors and no open non-INTRADAY reconciliation row exists;
otherwise `ExportBlocked` (audited). Each file is written to a temp file, fsynced and renamed,
then recorded in `exports` (sha256, last_event_id, chain_head) with an EXPORT_WRITTEN audit row.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from tbot_bot.accounting import audit
from tbot_bot.accounting.books import Books, open_books
from tbot_bot.accounting.export_data import DayData, load_day
from tbot_bot.accounting.export_files import (
    manifest_json,
    trade_records,
    trades_csv,
    trades_json,
    trial_balance_csv,
)
from tbot_bot.accounting.ofx import build_statement
from tbot_bot.accounting.schema import connect, schema_version, transaction
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.clock import Clock, SystemClock
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, atomic_write_bytes, ensure_dir
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import LedgerError

FORMATS = ("ofx", "csv", "json")
MAX_DAYS = 366


class ExportBlocked(LedgerError):  # noqa: N818 - the spec's name
    """Exports are refused while verify finds errors or reconciliation rows are open."""


@dataclass(frozen=True)
class ExportResult:
    day: date
    files: tuple[Path, ...]


def export_day(books: Books, day: date, formats: Sequence[str] = FORMATS) -> ExportResult:
    """Write the package of one UTC day (the chosen formats + trial balance + manifest)."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise LedgerError(f"unknown export formats {sorted(unknown)}; known: {FORMATS}")
    _preconditions(books, day)
    with contextlib.closing(connect(books.outputs.ledger_db("ledger"), readonly=True)) as conn:
        conn.execute("BEGIN")
        data = load_day(conn, day)
        conn.execute("ROLLBACK")
    ident, broker = books.identity.string, books.identity.broker_code
    stamp = day.strftime("%Y%m%d")
    out = books.outputs
    files: list[tuple[str, Path, bytes]] = []
    if "ofx" in formats:
        files.append(
            (
                "OFX_DAILY",
                out.export_file(stamp, "statement", "ofx"),
                build_statement(data, bot_identity=ident, broker_code=broker),
            )
        )
    records = trade_records(data, bot_identity=ident, broker_code=broker)
    if "csv" in formats:
        files.append(
            ("CSV_TRADES", out.export_file(stamp, "ledger_trades", "csv"), trades_csv(records))
        )
    if "json" in formats:
        files.append(
            (
                "JSON_TRADES",
                out.export_file(stamp, "ledger_trades", "json"),
                trades_json(records, data, bot_identity=ident),
            )
        )
    files.append(
        ("TRIAL_BALANCE", out.export_file(stamp, "trial_balance", "csv"), trial_balance_csv(data))
    )
    listing = [
        {"name": p.name, "sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
        for _, p, b in files
    ]
    manifest = manifest_json(
        data,
        bot_identity=ident,
        schema_version=schema_version("ledger"),
        coa_version=books.coa_version,
        mapping_version=books.mapping.version,
        files=listing,
    )
    files.append(("MANIFEST", out.export_file(stamp, "export_manifest", "json"), manifest))
    ensure_dir(out.exports_root, OUTPUT_DIR_MODE)
    ensure_dir(out.exports_dir(stamp), OUTPUT_DIR_MODE)
    for _, path, payload in files:
        atomic_write_bytes(path, payload, OUTPUT_FILE_MODE)
    _record(books, data, files)
    return ExportResult(day, tuple(path for _, path, _ in files))


def _preconditions(books: Books, day: date) -> None:
    from tbot_bot.accounting.verify import verify

    errors = [i for i in verify(books.outputs, books.identity) if i.is_error]
    rows = [dict(r) for r in books.ledger.execute(sql("reconcile", "open_rows"))]
    blocking = [r for r in rows if r.get("error_code") != "INTRADAY"]
    if not errors and not blocking:
        return
    reason = (f"{len(errors)} verify error(s)" if errors else "") + (
        f"{'; ' if errors else ''}{len(blocking)} open reconciliation row(s)" if blocking else ""
    )
    with transaction(books.ledger):
        audit.append(
            books.ledger,
            "audit_trail",
            ts_utc=books.now_text(),
            event_type="EXPORT_BLOCKED",
            actor=books.actor,
            reason=reason,
            related_id=day.isoformat(),
        )
    raise ExportBlocked(f"export of {day} blocked: {reason}")


def _record(books: Books, data: DayData, files: list[tuple[str, Path, bytes]]) -> None:
    now = books.now_text()
    with transaction(books.ledger):
        for kind, path, payload in files:
            digest = hashlib.sha256(payload).hexdigest()
            books.ledger.execute(
                sql("export", "insert_export"),
                {
                    "kind": kind,
                    "period_start": data.period_start,
                    "period_end": data.period_end,
                    "path": str(path.relative_to(books.outputs.root)),
                    "sha256": digest,
                    "last_event_id": data.last_event_id,
                    "chain_head": data.journal_chain_head,
                    "created_at_utc": now,
                },
            )
            audit.append(
                books.ledger,
                "audit_trail",
                ts_utc=now,
                event_type="EXPORT_WRITTEN",
                actor=books.actor,
                related_table="exports",
                related_id=path.name,
                extra_json={"sha256": digest, "kind": kind},
            )


def export(
    outputs: BotOutputs,
    identity: BotIdentity,
    fmt: str,
    from_day: date,
    to_day: date,
    *,
    paths: RuntimePaths | None = None,
    clock: Clock | None = None,
    actor: str = "cli",
) -> list[Path]:
    """`tbot ledger export`: the package of each UTC day in [from_day, to_day] (takes the lock)."""
    if fmt not in FORMATS:
        raise LedgerError(f"export format {fmt!r} must be one of {FORMATS}")
    if to_day < from_day or (to_day - from_day).days >= MAX_DAYS:
        raise LedgerError(
            f"export range {from_day}..{to_day} must be ascending and <= {MAX_DAYS} days"
        )
    books = open_books(
        outputs,
        identity,
        actor=actor,
        paths=paths or RuntimePaths.for_home(),
        clock=clock or SystemClock(),
    )
    written: list[Path] = []
    try:
        with books.session("export"):
            day = from_day
            while day <= to_day:
                written.extend(export_day(books, day, (fmt,)).files)
                day += timedelta(days=1)
    finally:
        books.close()
    return written
