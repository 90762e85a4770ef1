"""`verify(outputs, identity, deep=False) -> list[Issue]` (accounting spec §8.5).

Read-only (`mode=ro` connections); runs at startup, before each sync and before each export.
Every check reports what it finds instead of stopping at the first problem, so one run lists
everything an admin must fix. Severity `error` blocks posting and exports (the writer LOCKs the
ledger); `warning` only informs.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tbot_bot.accounting import chains, coa
from tbot_bot.accounting.models import Issue
from tbot_bot.accounting.schema import check_schema, connect
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.accounting.store import ledger_paths
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs

_CHAINS = {
    "coa": ("coa_audit_log",),
    "ledger": ("journal_events", "audit_trail"),
    "float": ("float_events", "audit_trail"),
}


def verify(
    outputs: BotOutputs, identity: BotIdentity, *, deep: bool = False, workers: int | None = None
) -> list[Issue]:
    """Every issue of the three files of one bot; [] when the books are healthy.

    `workers`: processes that recompute the hash chains; None = 1 for small ledgers and up to
    the CPU count (max 4) from `chains.PARALLEL_MIN_ROWS` chained rows on.
    """
    issues: list[Issue] = []
    paths = ledger_paths(outputs)
    missing = [kind for kind, path in paths.items() if not path.exists()]
    for kind in missing:
        issues.append(Issue("SCHEMA_VERSION", "error", kind, "-", paths[kind].name, "file missing"))
    if missing:
        return issues
    with _open_all(outputs) as conns:
        for kind, conn in conns.items():
            drift = check_schema(conn, kind)
            issues.extend(_issue(code, kind, table, "-", detail) for code, table, detail in drift)
        if any(i.code == "SCHEMA_VERSION" for i in issues):
            return issues  # the other checks assume the expected tables
        parallel = _workers(conns, workers)
        checker = chains.ChainChecker(parallel)
        for kind, conn in conns.items():
            for table in _CHAINS[kind]:
                checker.submit(kind, paths[kind], table, conn)
        # While worker processes hash, SQLite (which releases the GIL) runs the other checks.
        with ThreadPoolExecutor(max_workers=1) as pool:
            # On a large ledger its page walk (quick_check, foreign_key_check) runs in a thread on
            # its own read connection, next to the cross-table checks below. Both are
            # self-contained checks of one file, so their own snapshot is as good as the shared one.
            ledger_file = (
                pool.submit(_file_checks_apart, paths["ledger"], identity, deep)
                if parallel > 1
                else None
            )
            file_issues_at = 0
            for kind, conn in conns.items():
                if kind == "ledger" and ledger_file is not None:
                    file_issues_at = len(issues)
                    continue
                issues.extend(_file_checks(conn, kind, identity, deep))
            issues.extend(_coa_checks(conns["coa"], conns["ledger"]))
            issues.extend(_ledger_checks(conns["ledger"]))
            issues.extend(_lot_checks(conns["ledger"]))
            issues.extend(_float_checks(conns["float"], conns["ledger"]))
            if ledger_file is not None:  # same place in the list as the serial order
                issues[file_issues_at:file_issues_at] = ledger_file.result()
        for (kind, table), bad in checker.results().items():
            if bad is not None:
                issues.append(
                    _issue("HASH_CHAIN_BROKEN", kind, table, bad, "recomputed hash differs")
                )
        issues.extend(_pending(conns["ledger"]))
    return issues


def _workers(conns: dict[str, sqlite3.Connection], requested: int | None) -> int:
    if requested is not None:
        return max(1, requested)
    rows = sum(
        int(conn.execute(sql("audit", f"bounds_{table}")).fetchone()[2])
        for kind, conn in conns.items()
        for table in _CHAINS[kind]
    )
    return 1 if rows < chains.PARALLEL_MIN_ROWS else max(1, min(4, os.cpu_count() or 1))


@contextlib.contextmanager
def _open_all(outputs: BotOutputs) -> Iterator[dict[str, sqlite3.Connection]]:
    conns: dict[str, sqlite3.Connection] = {}
    try:
        for kind, path in ledger_paths(outputs).items():
            conns[kind] = connect(path, readonly=True)
            conns[kind].execute("BEGIN")  # one consistent read snapshot per file
        yield conns
    finally:
        for conn in conns.values():
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            conn.close()


def _issue(
    code: str, db: str, table: str, ref: object, detail: str, severity: str = "error"
) -> Issue:
    return Issue(code, severity, db, table, str(ref), detail)


def _file_checks_apart(path: Path, identity: BotIdentity, deep: bool) -> list[Issue]:
    """`_file_checks` of the ledger file on a read connection of its own (runs in a thread)."""
    conn = connect(path, readonly=True)
    try:
        conn.execute("BEGIN")
        return _file_checks(conn, "ledger", identity, deep)
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def _file_checks(
    conn: sqlite3.Connection, kind: str, identity: BotIdentity, deep: bool
) -> list[Issue]:
    issues: list[Issue] = []
    pragma = "integrity_check" if deep else "quick_check"
    result = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}")]
    if result != ["ok"]:
        issues.append(_issue("INTEGRITY", kind, "-", pragma, "; ".join(result[:5])))
    for row in conn.execute("PRAGMA foreign_key_check").fetchall()[:20]:
        issues.append(_issue("INTEGRITY", kind, str(row[0]), row[1], f"foreign key to {row[2]}"))
    issues.extend(_identity_check(conn, kind, identity))
    return issues


def _identity_check(conn: sqlite3.Connection, kind: str, identity: BotIdentity) -> list[Issue]:
    if kind == "coa":
        meta = coa.read_metadata(conn) or {}
        found = "_".join(
            str(meta.get(k)) for k in ("entity_code", "jurisdiction_code", "broker_code", "bot_id")
        )
    else:
        table = "ledger_meta" if kind == "ledger" else "float_meta"
        stmt = sql("ledger_write" if kind == "ledger" else "float", "select_meta")
        meta = dict(conn.execute(stmt).fetchall())
        found = str(meta.get("bot_identity"))
        del table
    if found != identity.string:
        return [
            _issue(
                "IDENTITY_MISMATCH", kind, "meta", found, f"file identity is not {identity.string}"
            )
        ]
    return []


def _coa_checks(coa_conn: sqlite3.Connection, ledger: sqlite3.Connection) -> list[Issue]:
    issues: list[Issue] = []
    for db, conn in (("coa", coa_conn), ("ledger", ledger)):
        meta = coa.read_metadata(conn)
        if meta is None:
            issues.append(_issue("COA_MISMATCH", db, "coa_metadata", "-", "no metadata row"))
            continue
        tree_hash = coa.tree_sha256(coa.read_tree(conn))
        if tree_hash != meta["tree_sha256"]:
            issues.append(
                _issue(
                    "COA_MISMATCH",
                    db,
                    "coa_accounts",
                    meta["coa_version"],
                    "accounts differ from the published tree",
                )
            )
    source, mirror = coa.read_metadata(coa_conn), coa.read_metadata(ledger)
    if source and mirror:
        if source["coa_version"] != mirror["coa_version"]:
            issues.append(
                _issue(
                    "COA_MISMATCH",
                    "ledger",
                    "coa_metadata",
                    mirror["coa_version"],
                    f"mirror version differs from COA {source['coa_version']}",
                )
            )
        elif source["tree_sha256"] != mirror["tree_sha256"]:
            issues.append(
                _issue(
                    "COA_MISMATCH",
                    "ledger",
                    "coa_metadata",
                    mirror["coa_version"],
                    "mirror tree differs at the same version",
                )
            )
    for split_id, code in ledger.execute(sql("verify", "bad_accounts")).fetchall()[:20]:
        issues.append(
            _issue(
                "COA_MISMATCH",
                "ledger",
                "ledger_entries",
                split_id,
                f"split on unknown or non-postable account {code}",
            )
        )
    return issues


def _ledger_checks(conn: sqlite3.Connection) -> list[Issue]:
    issues: list[Issue] = []
    for event_id, count, legs in conn.execute(sql("verify", "leg_count_problems")):
        issues.append(
            _issue(
                "UNBALANCED_EVENT",
                "ledger",
                "entry_seals",
                event_id,
                f"{legs} legs, seal says {count}",
            )
        )
    for event_id, currency, total in conn.execute(sql("verify", "unbalanced_events")):
        issues.append(
            _issue(
                "UNBALANCED_EVENT",
                "ledger",
                "ledger_entries",
                event_id,
                f"{currency} legs sum to {total}",
            )
        )
    for (event_id,) in conn.execute(sql("verify", "unsealed_events")):
        issues.append(_issue("UNSEALED_EVENT", "ledger", "journal_events", event_id, "no seal"))
    for split_id, event_id in conn.execute(sql("verify", "orphan_splits")):
        issues.append(
            _issue(
                "ORPHAN_SPLIT",
                "ledger",
                "ledger_entries",
                split_id,
                f"event {event_id} missing or unsealed",
            )
        )
    for currency, total in conn.execute(sql("verify", "trial_balance_totals")):
        issues.append(
            _issue(
                "TRIAL_BALANCE_NONZERO",
                "ledger",
                "ledger_entries",
                currency,
                f"all splits sum to {total}",
            )
        )
    for (event_id,) in conn.execute(sql("verify", "ob_order")).fetchall()[:20]:
        issues.append(
            _issue(
                "OB_ORDER",
                "ledger",
                "journal_events",
                event_id,
                "event dated at or before the opening balance",
            )
        )
    return issues


def _lot_checks(conn: sqlite3.Connection) -> list[Issue]:
    issues: list[Issue] = []
    long_basis: dict[str, int] = defaultdict(int)
    short_basis: dict[str, int] = defaultdict(int)
    open_qty: dict[str, int] = defaultdict(int)
    for lot_id, symbol, side, _instrument, qty, basis in conn.execute(sql("verify", "lot_states")):
        if qty < 0 or basis < 0:
            issues.append(
                _issue("LOT_NEGATIVE", "ledger", "lots", lot_id, f"qty {qty}, basis {basis}")
            )
        if side == "long":
            long_basis[symbol] += basis
            open_qty[symbol] += qty
        else:
            short_basis[symbol] += basis
            open_qty[symbol] -= qty
    ledger_long: dict[str, int] = defaultdict(int)
    ledger_short: dict[str, int] = defaultdict(int)
    for symbol, account, amount, _qty in conn.execute(sql("verify", "position_balances")):
        if account == "2110":
            ledger_short[symbol] -= amount
        else:
            ledger_long[symbol] += amount
    split_qty = {s: int(q) for s, q in conn.execute(sql("verify", "split_qty_by_symbol"))}
    for symbol in sorted(
        set(long_basis) | set(short_basis) | set(ledger_long) | set(ledger_short) | set(split_qty)
    ):
        checks = (
            ("long basis", ledger_long[symbol], long_basis[symbol]),
            ("short basis", ledger_short[symbol], short_basis[symbol]),
            ("quantity", split_qty.get(symbol, 0), open_qty[symbol]),
        )
        for what, ledger_value, lot_value in checks:
            if ledger_value != lot_value:
                issues.append(
                    _issue(
                        "LOT_LEDGER_MISMATCH",
                        "ledger",
                        "lots",
                        symbol,
                        f"{what}: ledger {ledger_value} != lots {lot_value}",
                    )
                )
    realized = int(conn.execute(sql("verify", "realized_unreversed")).fetchone()[0])
    pnl = int(conn.execute(sql("verify", "pnl_balance")).fetchone()[0])
    if realized != -pnl:
        issues.append(
            _issue(
                "LOT_LEDGER_MISMATCH",
                "ledger",
                "lot_closures",
                "realized",
                f"closures realize {realized}, P&L accounts hold {-pnl}",
            )
        )
    return issues


def _float_checks(float_conn: sqlite3.Connection, ledger: sqlite3.Connection) -> list[Issue]:
    issues: list[Issue] = []
    linked = float_conn.execute(sql("float", "linked_fitids")).fetchall()
    known = sql("verify", "ledger_fitid_known")
    for row_id, event_type, fitid in linked:
        if ledger.execute(known, {"fitid": fitid}).fetchone() is None:
            issues.append(
                _issue(
                    "FLOAT_LINK",
                    "float",
                    "float_events",
                    row_id,
                    f"{event_type} links to missing ledger FITID {fitid[:12]}",
                )
            )
    for row_id, event_type in float_conn.execute(sql("float", "reserve_events_without_allocation")):
        issues.append(
            _issue(
                "FLOAT_LINK",
                "float",
                "float_events",
                row_id,
                f"{event_type} without a reserve_allocations row",
            )
        )
    return issues


def _pending(conn: sqlite3.Connection) -> list[Issue]:
    issues = [
        _issue(
            "OPEN_RECON",
            "ledger",
            "reconciliation_log",
            row["id"],
            f"{row['recon_type']} {row['status']} {row['error_code'] or ''}".strip(),
            "warning",
        )
        for row in conn.execute(sql("reconcile", "open_rows"))
    ]
    issues.extend(
        _issue("UNMAPPED_PENDING", "ledger", "unmapped_queue", queue_id, reason, "warning")
        for queue_id, reason in conn.execute(sql("verify", "unmapped_open"))
    )
    return issues
