"""The runner's persisted records besides the order journal (trading spec §1.3, §7.3, §7.6):
phase records, halt records, the per-day ticker blocklist and daily summaries.

They make a restart safe: a phase found `running` resumes manage-only, finished phases never rerun,
HALTED survives restarts and day changes, and a symbol traded today is never entered again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tbot_bot.clock import iso_utc
from tbot_bot.money import to_minor
from tbot_bot.trading.state_db import named_queries, transaction

PHASE_STATUSES = frozenset({"pending", "running", "done", "skipped", "failed", "aborted"})
FINISHED = frozenset({"done", "skipped", "failed", "aborted"})


def _q(name: str) -> str:
    return named_queries("runner_queries.sql")[name]


@dataclass(frozen=True)
class PhaseRecord:
    phase: str
    status: str
    reason: str | None
    actual_start_utc: str | None
    end_utc: str | None


class RunnerState:
    """Phase, halt, blocklist and summary records in the bot's state database."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def set_phase(
        self,
        trading_date: date,
        phase: str,
        status: str,
        now: datetime,
        *,
        reason: str | None = None,
        scheduled_start: datetime | None = None,
        started: datetime | None = None,
        ended: datetime | None = None,
    ) -> None:
        if status not in PHASE_STATUSES:
            raise ValueError(f"unknown phase status {status!r}")
        with transaction(self.conn):
            self.conn.execute(
                _q("upsert_phase"),
                {
                    "trading_date": trading_date.isoformat(),
                    "phase": phase,
                    "status": status,
                    "reason": reason,
                    "scheduled_start_utc": iso_utc(scheduled_start) if scheduled_start else None,
                    "actual_start_utc": iso_utc(started) if started else None,
                    "end_utc": iso_utc(ended) if ended else None,
                    "now": iso_utc(now),
                },
            )

    def phases(self, trading_date: date) -> dict[str, PhaseRecord]:
        rows = self.conn.execute(
            _q("select_phases_of_date"), {"trading_date": trading_date.isoformat()}
        ).fetchall()
        return {
            row["phase"]: PhaseRecord(
                row["phase"], row["status"], row["reason"], row["actual_start_utc"], row["end_utc"]
            )
            for row in rows
        }

    # -- HALTED -------------------------------------------------------------------------------
    def record_halt(
        self,
        trading_date: date,
        now: datetime,
        reason: str,
        day_pnl: Decimal | None,
        threshold: Decimal | None,
    ) -> None:
        with transaction(self.conn):
            self.conn.execute(
                _q("insert_halt"),
                {
                    "trading_date": trading_date.isoformat(),
                    "tripped_utc": iso_utc(now),
                    "reason": reason,
                    "day_pnl_minor": None if day_pnl is None else to_minor(day_pnl),
                    "threshold_minor": None if threshold is None else to_minor(threshold),
                },
            )

    def open_halt(self) -> Mapping[str, Any] | None:
        row = self.conn.execute(_q("select_open_halt")).fetchone()
        return dict(row) if row else None

    def reset_halt(self, now: datetime, actor: str) -> None:
        with transaction(self.conn):
            self.conn.execute(_q("reset_halts"), {"now": iso_utc(now), "actor": actor})

    # -- per-day ticker blocklist (gate check 2) ----------------------------------------------
    def block_symbol(
        self, trading_date: date, symbol: str, client_order_id: str, now: datetime
    ) -> None:
        with transaction(self.conn):
            self.conn.execute(
                _q("insert_blocklist"),
                {
                    "trading_date": trading_date.isoformat(),
                    "symbol": symbol,
                    "client_order_id": client_order_id,
                    "now": iso_utc(now),
                },
            )

    def blocked_symbols(self, trading_date: date) -> frozenset[str]:
        rows = self.conn.execute(
            _q("select_blocklist"), {"trading_date": trading_date.isoformat()}
        ).fetchall()
        return frozenset(row["symbol"] for row in rows)

    # -- daily summaries ----------------------------------------------------------------------
    def summary(self, trading_date: date) -> dict[str, Any] | None:
        row = self.conn.execute(
            _q("select_summary"), {"trading_date": trading_date.isoformat()}
        ).fetchone()
        return dict(json.loads(row["summary_json"])) if row else None

    def save_summary(self, trading_date: date, summary: Mapping[str, Any], final: bool) -> None:
        with transaction(self.conn):
            self.conn.execute(
                _q("upsert_summary"),
                {
                    "trading_date": trading_date.isoformat(),
                    "generated_utc": summary.get("generated_utc"),
                    "final": int(final),
                    "summary_json": json.dumps(summary, sort_keys=True),
                },
            )
