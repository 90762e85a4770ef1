"""Chart of accounts: template 1.0.0, versions, publish, rollback and the ledger mirror (§2).

A published version is never edited in place. `publish` is one COA-file transaction: validate,
append `coa_versions` (canonical tree + sha256), insert/update accounts stamped with the new
version, update `coa_metadata`, audit `COA_PUBLISHED`. The ledger file keeps a mirror of the same
tables; `sync_mirror` copies newer versions into it (idempotent, re-runnable after a crash).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tbot_bot.accounting import audit
from tbot_bot.accounting.codec import canonical_text, sha256_hex
from tbot_bot.accounting.schema import transaction
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.config.identity import BotIdentity
from tbot_bot.errors import LedgerError

TEMPLATE_PATH = Path(__file__).resolve().parent / "coa_template.json"
TEMPLATE_VERSION = "1.0.0"
# Pinned hash of template 1.0.0: editing the shipped template in place fails loudly; a change is
# a new version published through `publish`.
TEMPLATE_TREE_SHA256 = "c4a5bc599cfda980f4e681c3307d6db0194f5ae81cb001967cd306d851bbb1ae"
TREE_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "parent_code",
    "account_type",
    "normal_side",
    "cash_flow_class",
    "postable",
    "active",
    "description",
)
EDITABLE_FIELDS = frozenset({"name", "description", "postable", "active"})
PROTECTED_FROM_RECLASS = frozenset({"1111", "1112", "2110", "4010", "4080"})
CURRENCIES: dict[str, int] = {"USD": 2, "CAD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CHF": 2}


class CoaRollbackBlockedError(LedgerError):
    """`COA_ROLLBACK_BLOCKED`: an account added after the target has a balance or open lots."""


@dataclass(frozen=True)
class CoaVersion:
    version: str
    tree_sha256: str
    tree: tuple[dict[str, Any], ...]


def canonical_tree(accounts: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Accounts reduced to the hashed fields, sorted by code."""
    rows: list[dict[str, Any]] = []
    for account in accounts:
        row = {name: account.get(name) for name in TREE_FIELDS}
        row["postable"] = int(account.get("postable") or 0)
        row["active"] = int(account.get("active", 1) or 0)
        row["description"] = row["description"] or ""
        rows.append(row)
    return tuple(sorted(rows, key=lambda r: str(r["code"])))


def tree_sha256(tree: Sequence[Mapping[str, Any]]) -> str:
    return sha256_hex(canonical_text(list(tree)))


def load_template() -> CoaVersion:
    """Template 1.0.0 from `coa_template.json`, checked against its pinned hash."""
    doc = json.loads(TEMPLATE_PATH.read_text(encoding="utf-8"))
    if doc.get("coa_version") != TEMPLATE_VERSION:
        raise LedgerError(f"{TEMPLATE_PATH}: coa_version must be {TEMPLATE_VERSION}")
    tree = canonical_tree(doc["accounts"])
    digest = tree_sha256(tree)
    if digest != TEMPLATE_TREE_SHA256:
        raise LedgerError(
            f"{TEMPLATE_PATH}: template {TEMPLATE_VERSION} was edited in place "
            f"(tree sha256 {digest}); publish a new COA version instead"
        )
    validate_tree(tree)
    return CoaVersion(TEMPLATE_VERSION, digest, tree)


def validate_tree(tree: Sequence[Mapping[str, Any]]) -> None:
    """Codes unique 4-digit; parents exist and are headers; child type = parent type."""
    by_code: dict[str, Mapping[str, Any]] = {}
    problems: list[str] = []
    for account in tree:
        code = str(account["code"])
        if len(code) != 4 or not code.isdigit():
            problems.append(f"account code {code!r} must be 4 digits")
        if code in by_code:
            problems.append(f"account code {code} appears twice")
        by_code[code] = account
    for code, account in by_code.items():
        parent_code = account["parent_code"]
        if parent_code is None:
            continue
        parent = by_code.get(str(parent_code))
        if parent is None:
            problems.append(f"account {code}: parent {parent_code} does not exist")
            continue
        if int(parent["postable"]):
            problems.append(f"account {code}: parent {parent_code} is postable (must be a header)")
        types = {account["account_type"], parent["account_type"]}
        if len(types) > 1 and "memo" not in types:
            problems.append(f"account {code}: type differs from parent {parent_code}")
    if problems:
        raise LedgerError("invalid chart of accounts: " + "; ".join(problems))


def read_tree(conn: sqlite3.Connection) -> tuple[dict[str, Any], ...]:
    return canonical_tree([dict(r) for r in conn.execute(sql("coa", "select_accounts"))])


def read_metadata(conn: sqlite3.Connection) -> dict[str, Any] | None:
    row = conn.execute(sql("coa", "select_metadata")).fetchone()
    return dict(row) if row else None


def read_versions(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sql("coa", "select_versions"))]


def seed_currencies(conn: sqlite3.Connection) -> None:
    for code, minor in CURRENCIES.items():
        conn.execute(sql("coa", "insert_currency"), {"code": code, "minor_unit": minor})


def seed_coa(
    conn: sqlite3.Connection, identity: BotIdentity, currency: str, *, actor: str, now: str
) -> None:
    """Create version 1.0.0 in an empty COA file or mirror (call inside a transaction)."""
    template = load_template()
    _insert_version(conn, template, actor=actor, reason="COA template 1.0.0", now=now)
    for account in template.tree:
        conn.execute(
            sql("coa", "insert_account"), {**account, "introduced_in_version": template.version}
        )
    conn.execute(
        sql("coa", "insert_metadata"),
        {
            "currency_code": currency,
            "entity_code": identity.entity_code,
            "jurisdiction_code": identity.jurisdiction_code,
            "broker_code": identity.broker_code,
            "bot_id": identity.bot_id,
            "coa_version": template.version,
            "tree_sha256": template.tree_sha256,
            "now": now,
        },
    )


def _insert_version(
    conn: sqlite3.Connection, version: CoaVersion, *, actor: str, reason: str, now: str
) -> None:
    conn.execute(
        sql("coa", "insert_version"),
        {
            "version": version.version,
            "published_at_utc": now,
            "published_by": actor,
            "reason": reason,
            "tree_sha256": version.tree_sha256,
            "tree_json": canonical_text(list(version.tree)),
        },
    )


def _apply_tree(conn: sqlite3.Connection, version: str, tree: Sequence[Mapping[str, Any]]) -> None:
    """Insert new accounts and update changed ones, stamped with `version`."""
    current = {str(a["code"]): a for a in read_tree(conn)}
    for account in tree:
        old = current.get(str(account["code"]))
        if old is None:
            conn.execute(
                sql("coa", "insert_account"), {**account, "introduced_in_version": version}
            )
        elif any(old[f] != account[f] for f in EDITABLE_FIELDS):
            conn.execute(sql("coa", "update_account"), {**account, "changed_in_version": version})


def sync_mirror(
    coa: sqlite3.Connection, ledger: sqlite3.Connection, *, actor: str, now: str
) -> list[str]:
    """Copy COA versions the ledger mirror lacks, oldest first; returns the versions copied."""
    have = {v["version"] for v in read_versions(ledger)}
    copied: list[str] = []
    for version in read_versions(coa):
        if version["version"] in have:
            continue
        tree = tuple(json.loads(version["tree_json"]))
        with transaction(ledger):
            ledger.execute(sql("coa", "insert_version"), version)
            _apply_tree(ledger, version["version"], tree)
            values = {"coa_version": version["version"], "tree_sha256": version["tree_sha256"]}
            if read_metadata(ledger) is None:
                source = read_metadata(coa) or {}
                ledger.execute(sql("coa", "insert_metadata"), {**source, **values, "now": now})
            else:
                ledger.execute(sql("coa", "update_metadata"), {**values, "now": now})
            audit.append(
                ledger,
                "audit_trail",
                ts_utc=now,
                event_type="COA_PUBLISHED",
                actor=actor,
                source="mirror",
                related_table="coa_versions",
                related_id=version["version"],
            )
        copied.append(version["version"])
    return copied


def bump(version: str, part: str) -> str:
    major, minor, patch = (int(p) for p in version.split("."))
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def publish(
    coa: sqlite3.Connection,
    changes: Sequence[Mapping[str, Any]],
    *,
    actor: str,
    reason: str,
    now: str,
    balances: Mapping[str, int] | None = None,
    accounts_with_lots: frozenset[str] = frozenset(),
) -> str:
    """Publish a new COA version from `changes` (each: `code` + fields); returns the version.

    PATCH for names/descriptions only, MINOR for new accounts or `active`/`postable` changes.
    An account with a non-zero ledger balance cannot become inactive or non-postable.
    """
    if not changes:
        raise LedgerError("COA publish needs at least one change")
    meta = read_metadata(coa)
    if meta is None:
        raise LedgerError("COA file has no coa_metadata row")
    tree = {str(a["code"]): dict(a) for a in read_tree(coa)}
    part = "patch"
    for change in changes:
        code = str(change.get("code"))
        if code in tree:
            fixed = set(change) - EDITABLE_FIELDS - {"code"}
            if any(change[f] != tree[code].get(f) for f in fixed):
                raise LedgerError(f"account {code}: only {sorted(EDITABLE_FIELDS)} may change")
            if {"postable", "active"} & set(change):
                part = "minor"
            tree[code].update({k: change[k] for k in EDITABLE_FIELDS & set(change)})
        else:
            part = "minor"
            tree[code] = dict(canonical_tree([{"active": 1, "description": "", **change}])[0])
    _check_balances(tree, balances or {}, accounts_with_lots)
    new_tree = canonical_tree(list(tree.values()))
    validate_tree(new_tree)
    return _publish_tree(coa, meta, new_tree, part, actor=actor, reason=reason, now=now)


def _check_balances(
    tree: Mapping[str, Mapping[str, Any]], balances: Mapping[str, int], lots: frozenset[str]
) -> None:
    for code, account in tree.items():
        idle = not int(account["active"]) or not int(account["postable"])
        if idle and (balances.get(code, 0) != 0 or code in lots):
            raise LedgerError(
                f"account {code} has a non-zero balance or open lots; it cannot become "
                "inactive or non-postable"
            )


def _publish_tree(
    coa: sqlite3.Connection,
    meta: Mapping[str, Any],
    tree: tuple[dict[str, Any], ...],
    part: str,
    *,
    actor: str,
    reason: str,
    now: str,
) -> str:
    new = CoaVersion(bump(str(meta["coa_version"]), part), tree_sha256(tree), tree)
    if new.tree_sha256 == meta["tree_sha256"]:
        raise LedgerError("COA publish changes nothing")
    with transaction(coa):
        _insert_version(coa, new, actor=actor, reason=reason, now=now)
        _apply_tree(coa, new.version, tree)
        coa.execute(
            sql("coa", "update_metadata"),
            {"coa_version": new.version, "tree_sha256": new.tree_sha256, "now": now},
        )
        audit.append(
            coa,
            "coa_audit_log",
            ts_utc=now,
            event_type="COA_PUBLISHED",
            actor=actor,
            reason=reason,
            related_table="coa_versions",
            related_id=new.version,
            before_json={"coa_version": meta["coa_version"]},
            after_json={"coa_version": new.version, "tree_sha256": new.tree_sha256},
        )
    return new.version


def rollback(
    coa: sqlite3.Connection,
    to_version: str,
    *,
    actor: str,
    reason: str,
    now: str,
    balances: Mapping[str, int] | None = None,
    accounts_with_lots: frozenset[str] = frozenset(),
) -> str:
    """Publish a MINOR version restoring `to_version`'s names and flags (§2.3).

    Accounts added after `to_version` are deactivated; if one of them has a non-zero balance or
    open lots the rollback is refused (`COA_ROLLBACK_BLOCKED`) and nothing is written.
    """
    versions = {v["version"]: v for v in read_versions(coa)}
    if to_version not in versions:
        raise LedgerError(f"COA version {to_version!r} does not exist")
    meta = read_metadata(coa)
    if meta is None:
        raise LedgerError("COA file has no coa_metadata row")
    target = {str(a["code"]): a for a in json.loads(versions[to_version]["tree_json"])}
    tree = {str(a["code"]): dict(a) for a in read_tree(coa)}
    for code, account in tree.items():
        if code in target:
            account.update({k: target[code][k] for k in EDITABLE_FIELDS})
        else:
            if (balances or {}).get(code, 0) != 0 or code in accounts_with_lots:
                raise CoaRollbackBlockedError(
                    f"COA_ROLLBACK_BLOCKED: account {code} was added after {to_version} and "
                    "has a balance or open lots"
                )
            account["active"] = 0
    new_tree = canonical_tree(list(tree.values()))
    return _publish_tree(
        coa,
        meta,
        new_tree,
        "minor",
        actor=actor,
        reason=f"rollback to {to_version}: {reason}",
        now=now,
    )
