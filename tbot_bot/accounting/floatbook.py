"""FLOAT sub-ledger: session snapshots and float events, CORE part (accounting spec §7).

Money effects live in the main ledger; float rows link to them by `ledger_fitid`. Writes follow
the main-ledger commit and are idempotent through `dedup_key` (float_events) and
`UNIQUE(trading_day, session)` (snapshots). The snapshot stores the numbers the trading module
computed; `session_numbers` is the shared arithmetic of §7.2 so both sides agree.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from tbot_bot.accounting import audit
from tbot_bot.accounting.codec import canonical_text, chain_hash, rhe_bp
from tbot_bot.accounting.models import FloatSnapshot
from tbot_bot.accounting.schema import transaction
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.config.identity import BotIdentity
from tbot_bot.errors import LedgerError

SESSIONS = ("open", "holdings_open", "mid", "holdings_mid", "close")
_EVENT_FIELDS = (
    "at_utc",
    "trading_day",
    "event_type",
    "amount_minor",
    "before_minor",
    "after_minor",
    "trigger",
    "actor",
    "rationale",
    "ledger_fitid",
    "proposal_id",
    "details_json",
    "dedup_key",
    "entity_code",
    "jurisdiction_code",
    "broker_code",
    "bot_id",
)


@dataclass(frozen=True)
class SessionNumbers:
    float_minor: int
    session_cap_minor: int
    daily_loss_limit_minor: int


def session_numbers(
    cash_minor: int,
    reserved_minor: int,
    *,
    allocation_bp: int,
    daily_loss_limit_bp: int,
    first_float_of_day_minor: int | None = None,
) -> SessionNumbers:
    """F = max(0, cash - reserved); cap = F x allocation, limit = F_day x loss limit, both
    rounded down to the cent (integer floor on minor units). Pass the defense-mode allocation
    as `allocation_bp` when defense mode is active."""
    float_minor = max(0, cash_minor - reserved_minor)
    f_day = float_minor if first_float_of_day_minor is None else first_float_of_day_minor
    return SessionNumbers(
        float_minor,
        float_minor * allocation_bp // 10000,
        f_day * daily_loss_limit_bp // 10000,
    )


def snapshot_from_row(row: sqlite3.Row | dict[str, Any]) -> FloatSnapshot:
    r = dict(row)
    return FloatSnapshot(
        r["trading_day"],
        r["session"],
        r["taken_at_utc"],
        r["account_value_minor"],
        r["cash_minor"],
        r["reserved_minor"],
        r["float_minor"],
        r["session_cap_minor"],
        r["daily_loss_limit_minor"],
        r["policy_version_id"],
        r["sync_run_id"],
    )


class FloatBook:
    """Writer of the FLOAT file; owned by `Books` (single writer, lock held)."""

    def __init__(self, conn: sqlite3.Connection, identity: BotIdentity, actor: str) -> None:
        self._conn = conn
        self._identity = identity
        self._actor = actor

    def policy(self) -> dict[str, Any]:
        row = self._conn.execute(sql("float", "latest_policy")).fetchone()
        if row is None:
            raise LedgerError("FLOAT file has no policy version")
        return dict(row)

    def record_snapshot(
        self,
        trading_day: date,
        session: str,
        *,
        taken_at_utc: str,
        account_value_minor: int,
        cash_minor: int,
        reserved_minor: int,
        float_minor: int,
        session_cap_minor: int,
        daily_loss_limit_minor: int,
        sync_run_id: str | None = None,
    ) -> FloatSnapshot:
        """Store a session snapshot once per (day, session); a repeat returns the stored one.

        The first snapshot of a day also writes DAILY_ALLOCATION; every snapshot checks the
        float deviation from its target (DEVIATION_DETECTED, logged only).
        """
        if session not in SESSIONS:
            raise LedgerError(f"float session {session!r} must be one of {SESSIONS}")
        day = trading_day.isoformat()
        existing = self._conn.execute(
            sql("float", "snapshot_of"), {"trading_day": day, "session": session}
        ).fetchone()
        if existing is not None:
            return snapshot_from_row(existing)
        policy = self.policy()
        params = {
            "trading_day": day,
            "session": session,
            "taken_at_utc": taken_at_utc,
            "account_value_minor": account_value_minor,
            "cash_minor": cash_minor,
            "reserved_minor": reserved_minor,
            "float_minor": float_minor,
            "session_cap_minor": session_cap_minor,
            "daily_loss_limit_minor": daily_loss_limit_minor,
            "policy_version_id": policy["id"],
            "sync_run_id": sync_run_id,
            **self._identity_cols(),
        }
        with transaction(self._conn):
            first = self._conn.execute(
                sql("float", "first_snapshot_of_day"), {"trading_day": day}
            ).fetchone()
            previous = self._conn.execute(
                sql("float", "previous_day_snapshot"), {"trading_day": day}
            ).fetchone()
            self._conn.execute(sql("float", "insert_snapshot"), params)
            if first is None:
                self._event(
                    "DAILY_ALLOCATION",
                    day,
                    taken_at_utc,
                    float_minor,
                    before=None if previous is None else int(previous["float_minor"]),
                    after=float_minor,
                    trigger="schedule",
                    details={
                        "policy_version_id": policy["id"],
                        "session_cap_minor": session_cap_minor,
                        "daily_loss_limit_minor": daily_loss_limit_minor,
                    },
                    dedup_key=f"DAILY_ALLOCATION|{day}",
                )
            self._deviation(day, session, taken_at_utc, account_value_minor, float_minor, policy)
        return snapshot_from_row(params)

    def _deviation(
        self,
        day: str,
        session: str,
        at: str,
        account_value: int,
        float_minor: int,
        policy: dict[str, Any],
    ) -> None:
        target = rhe_bp(account_value, int(policy["float_target_pct_bp"]))
        if target <= 0:
            return
        deviation_bp = abs(float_minor - target) * 10000 // target
        threshold = int(policy["rebalance_trigger_bp"])
        if deviation_bp < threshold:
            return
        direction = "above" if float_minor > target else "below"
        self._event(
            "DEVIATION_DETECTED",
            day,
            at,
            deviation_bp,
            before=None,
            after=None,
            trigger="bot",
            details={
                "actual_minor": float_minor,
                "target_minor": target,
                "threshold_bp": threshold,
                "session": session,
                "direction": direction,
            },
            dedup_key=f"DEVIATION_DETECTED|{day}|{direction}",
        )

    def record_loss_limit_halt(
        self,
        trading_day: date,
        *,
        at_utc: str,
        loss_minor: int,
        limit_minor: int,
        session: str,
        realized_net_minor: int,
    ) -> bool:
        """LOSS_LIMIT_HALT once per day; returns False when it was already recorded."""
        day = trading_day.isoformat()
        with transaction(self._conn):
            return self._event(
                "LOSS_LIMIT_HALT",
                day,
                at_utc,
                loss_minor,
                before=None,
                after=None,
                trigger="bot",
                details={
                    "limit_minor": limit_minor,
                    "realized_net_minor": realized_net_minor,
                    "session": session,
                },
                dedup_key=f"LOSS_LIMIT_HALT|{day}",
            )

    def record_capital_event(
        self,
        event_type: str,
        *,
        ledger_fitid: str,
        amount_minor: int,
        at_utc: str,
        trading_day: date,
    ) -> bool:
        """INJECTION_RECEIVED / RETURN_SENT linked to its ledger event (idempotent)."""
        if event_type not in {"INJECTION_RECEIVED", "RETURN_SENT"}:
            raise LedgerError(f"not a capital float event: {event_type}")
        with transaction(self._conn):
            before = int(self._conn.execute(sql("float", "contributed_capital")).fetchone()[0])
            after = (
                before + amount_minor
                if event_type == "INJECTION_RECEIVED"
                else before - amount_minor
            )
            return self._event(
                event_type,
                trading_day.isoformat(),
                at_utc,
                amount_minor,
                before=before,
                after=after,
                trigger="bot",
                details={},
                ledger_fitid=ledger_fitid,
                dedup_key=f"{event_type}|{ledger_fitid}",
            )

    def has_event(self, dedup_key: str) -> bool:
        return (
            self._conn.execute(sql("float", "event_by_dedup"), {"dedup_key": dedup_key}).fetchone()
            is not None
        )

    def _event(
        self,
        event_type: str,
        day: str,
        at: str,
        amount: int,
        *,
        before: int | None,
        after: int | None,
        trigger: str,
        details: dict[str, Any],
        dedup_key: str,
        ledger_fitid: str | None = None,
    ) -> bool:
        if self.has_event(dedup_key):
            return False
        row: dict[str, Any] = {
            "at_utc": at,
            "trading_day": day,
            "event_type": event_type,
            "amount_minor": amount,
            "before_minor": before,
            "after_minor": after,
            "trigger": trigger,
            "actor": self._actor,
            "rationale": None,
            "ledger_fitid": ledger_fitid,
            "proposal_id": None,
            "details_json": canonical_text(details),
            "dedup_key": dedup_key,
            **self._identity_cols(),
        }
        prev = audit.head(self._conn, "float_events")
        row["prev_hash"] = prev
        row["row_hash"] = chain_hash(prev, {k: row[k] for k in _EVENT_FIELDS})
        self._conn.execute(sql("float", "insert_event"), row)
        return True

    def _identity_cols(self) -> dict[str, str]:
        ident = self._identity
        return {
            "entity_code": ident.entity_code,
            "jurisdiction_code": ident.jurisdiction_code,
            "broker_code": ident.broker_code,
            "bot_id": ident.bot_id,
        }

    def latest_snapshot(self, trading_day: date | None = None) -> FloatSnapshot | None:
        if trading_day is None:
            row = self._conn.execute(sql("float", "latest_snapshot")).fetchone()
        else:
            row = self._conn.execute(
                sql("float", "latest_snapshot_of_day"), {"trading_day": trading_day.isoformat()}
            ).fetchone()
        return None if row is None else snapshot_from_row(row)
