"""Mapping version 1 (accounting spec §6.3): broker-neutral record -> event type + accounts.

Rules are keyed on the vocabulary of §6.3, never on a broker's own codes; a NULL key is a
wildcard. The most specific matching rule wins (`specificity` = count of non-NULL keys); two
matches of equal specificity are `ambiguous`, none is `unmapped`. Version 1 is seeded read-only
when the COA file is created.
"""

from __future__ import annotations

import fnmatch
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tbot_bot.accounting.codec import canonical_text, sha256_hex
from tbot_bot.accounting.sqlfiles import sql

MAPPING_VERSION_1 = 1
KEY_FIELDS: tuple[str, ...] = (
    "broker_code",
    "record_kind",
    "activity_type",
    "activity_subtype",
    "side",
    "position_effect",
    "symbol_glob",
    "strategy",
)
# Record codes that never post automatically (§6.3): queued for the admin with this reason.
CORPORATE_ACTIONS = frozenset(
    {"JNLS", "SPLIT", "SSP", "SPIN", "SSO", "REORG", "MA", "SC", "NC", "OPASN", "OPXRC"}
)
UNSUPPORTED = frozenset({"DIVROC"})

_CASH = {"cash": "1030"}
_TRADE = {"cash": "1030", "fee": "5010"}


def _rule(
    activity_type: str, event_type: str, slots: Mapping[str, str], **keys: str
) -> dict[str, Any]:
    kind = "fill" if activity_type == "FILL" else "activity"
    rule: dict[str, Any] = {name: None for name in KEY_FIELDS}
    rule.update(record_kind=kind, activity_type=activity_type, **keys)
    rule.update(event_type=event_type, template_id=event_type, slots=dict(slots))
    return rule


def _v1_rules() -> list[dict[str, Any]]:
    rules = [
        _rule("FILL", "BUY", {**_TRADE, "asset": "1111"}, side="buy", position_effect="open"),
        _rule(
            "FILL",
            "BUY",
            {**_TRADE, "asset": "1112"},
            side="buy",
            position_effect="open",
            activity_subtype="option",
        ),
        _rule(
            "FILL",
            "SELL",
            {**_TRADE, "asset": "1111", "pnl": "4010"},
            side="sell",
            position_effect="close",
        ),
        _rule(
            "FILL",
            "SELL",
            {**_TRADE, "asset": "1112", "pnl": "4010"},
            side="sell",
            position_effect="close",
            activity_subtype="option",
        ),
        _rule(
            "FILL", "SHORT_OPEN", {**_TRADE, "short": "2110"}, side="sell", position_effect="open"
        ),
        _rule(
            "FILL",
            "SHORT_COVER",
            {**_TRADE, "short": "2110", "pnl": "4010"},
            side="buy",
            position_effect="close",
        ),
        _rule("OPEXP", "OPTION_EXPIRE", {"asset": "1112", "pnl": "4010"}),
        _rule("DIV", "DIVIDEND", {**_CASH, "income": "4050"}),
        _rule("DIV", "DIVIDEND", {**_CASH, "income": "4055"}, activity_subtype="ordinary"),
        _rule("DIVTXEX", "DIVIDEND", {**_CASH, "income": "4050"}),
        _rule("DIVCGS", "CAPGAIN_DIST", {**_CASH, "income": "4060"}),
        _rule("DIVCGL", "CAPGAIN_DIST", {**_CASH, "income": "4070"}),
        _rule("INT", "INTEREST", {**_CASH, "income": "4065"}),
        _rule("PTR", "FEE_REBATE", {**_CASH, "fee": "5010"}),
        _rule("CSD", "DEPOSIT", {**_CASH, "equity": "3010"}),
        _rule("CSW", "WITHDRAWAL", {**_CASH, "equity": "3010"}),
        _rule("JNLC", "JOURNAL_CASH", {**_CASH, "equity": "3010"}),
    ]
    for holdings in ("holdings_topup", "holdings_rebalance"):
        rules.append(
            _rule(
                "FILL",
                "SELL",
                {**_TRADE, "asset": "1111", "pnl": "4080"},
                side="sell",
                position_effect="close",
                strategy=holdings,
            )
        )
    for code in ("DIVNRA", "DIVTW", "INTNRA", "INTTW"):
        rules.append(_rule(code, "TAX_WITHHELD", {**_CASH, "tax": "5080"}))
    for code in ("FEE", "DIVFEE", "CFEE", "PTC"):
        rules.append(_rule(code, "FEE", {**_CASH, "fee": "5010"}))
    return rules


MAPPING_V1_RULES: tuple[dict[str, Any], ...] = tuple(_v1_rules())


@dataclass(frozen=True)
class MappingRule:
    keys: tuple[tuple[str, str | None], ...]
    event_type: str
    template_id: str
    slots: Mapping[str, str]

    @property
    def specificity(self) -> int:
        return sum(1 for _, value in self.keys if value is not None)

    def matches(self, probe: Mapping[str, str | None]) -> bool:
        for name, value in self.keys:
            if value is None:
                continue
            if name == "symbol_glob":
                symbol = probe.get("symbol")
                if symbol is None or not fnmatch.fnmatchcase(symbol, value):
                    return False
            elif probe.get(name) != value:
                return False
        return True


class MappingMiss(Exception):  # noqa: N818 - a lookup outcome, not an error of the caller
    """No rule (`unmapped`) or two equally specific rules (`ambiguous`)."""

    def __init__(self, reason_code: str, detail: str) -> None:
        self.reason_code = reason_code
        super().__init__(detail)


@dataclass(frozen=True)
class MappingSet:
    version: int
    rules: tuple[MappingRule, ...]
    _memo: dict[tuple[tuple[str, str | None], ...], MappingRule] = field(
        default_factory=dict, compare=False, repr=False
    )

    def lookup(self, **probe: str | None) -> MappingRule:
        """The most specific rule matching `probe` (keys of KEY_FIELDS, `symbol` for the glob)."""
        # A pure function of (rules, probe) asked thousands of times with the same few probes:
        # answers are memoised per mapping set (misses raise and are not cached).
        key = tuple(sorted(probe.items()))
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        rule = self._lookup(probe)
        if len(self._memo) > 4096:  # bounded: symbols are part of the key
            self._memo.clear()
        self._memo[key] = rule
        return rule

    def _lookup(self, probe: dict[str, str | None]) -> MappingRule:
        found = [rule for rule in self.rules if rule.matches(probe)]
        if not found:
            raise MappingMiss("unmapped", f"no mapping v{self.version} rule for {dict(probe)}")
        best = max(rule.specificity for rule in found)
        top = [rule for rule in found if rule.specificity == best]
        if len(top) > 1:
            raise MappingMiss("ambiguous", f"{len(top)} equally specific rules for {dict(probe)}")
        return top[0]


def rules_json(rules: tuple[dict[str, Any], ...]) -> str:
    return canonical_text(list(rules))


def seed_mapping(conn: sqlite3.Connection, *, coa_version: str, actor: str, now: str) -> None:
    """Insert mapping version 1 into a new COA file (inside the creating transaction)."""
    text = rules_json(MAPPING_V1_RULES)
    conn.execute(
        sql("coa", "insert_mapping_version"),
        {
            "version": MAPPING_VERSION_1,
            "coa_version": coa_version,
            "published_at_utc": now,
            "published_by": actor,
            "reason": "built-in mapping version 1",
            "rules_sha256": sha256_hex(text),
            "rules_json": text,
        },
    )
    for rule in MAPPING_V1_RULES:
        params = {name: rule[name] for name in KEY_FIELDS}
        params.update(
            mapping_version=MAPPING_VERSION_1,
            event_type=rule["event_type"],
            template_id=rule["template_id"],
            slots_json=canonical_text(rule["slots"]),
        )
        conn.execute(sql("coa", "insert_mapping_rule"), params)


def load_mapping(conn: sqlite3.Connection) -> MappingSet:
    """The newest mapping version of a COA file with its rules."""
    head = conn.execute(sql("coa", "latest_mapping_version")).fetchone()
    if head is None:
        return MappingSet(0, ())
    version = int(head[0])
    rules = []
    for row in conn.execute(sql("coa", "select_mapping_rules"), {"version": version}):
        keys = tuple((name, row[name]) for name in KEY_FIELDS)
        slots = json.loads(row["slots_json"])
        rules.append(MappingRule(keys, row["event_type"], row["template_id"], slots))
    return MappingSet(version, tuple(rules))
