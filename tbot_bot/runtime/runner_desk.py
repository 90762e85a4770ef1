"""The runner's desk: what the runner answers and shows while it runs (web_runtime §8.4).

It answers the ledger requests (`tbot ledger ...`, the web's COA edits and exports) with the live
broker and, during a trading day, the day's open books; and it publishes the status the web reads
(the day's figures and reconciliation in `runner.json`, `schedule.json` on each phase change,
`positions.json`). Kept apart from `runner.py`, whose role is the process lifecycle (lock, launch,
the days loop): the Runner owns one desk, tells it which broker, outputs and day are current, and
hands its hooks to the DayRunner; the desk never calls back into the Runner.

The desk also builds the runner's default `PollingClock`, because every wake-up of its sleeps is
the desk's `poll` (requests, then the control flags).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tbot_bot.accounting.queries import reconciliation_summary
from tbot_bot.broker.base import Broker
from tbot_bot.clock import Clock, iso_utc
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import TbotError
from tbot_bot.market.day_plan import schedule_json
from tbot_bot.runtime import status_files
from tbot_bot.runtime.control_flags import pending_flags
from tbot_bot.runtime.requests import process_ledger_requests
from tbot_bot.runtime.runner_support import PollingClock, RunnerStatus
from tbot_bot.trading.day_runner import DayRunner
from tbot_bot.trading.day_status import day_status

logger = logging.getLogger(__name__)
REQUEST_POLL_S = 5  # how often a sleeping runner looks for ledger requests during a day
REQUEST_QUIET_S = 120  # no request work this close to a phase start


class RunnerDesk:
    """Ledger requests and status publishing for one runner; the Runner sets the current
    `broker`, `outputs`, `day` and `day_books` as its lifecycle moves on."""

    def __init__(self, paths: RuntimePaths, status: RunnerStatus, clock: Clock | None) -> None:
        self.paths = paths
        self.status = status
        self.clock: Clock = clock or PollingClock(self.poll)
        self.broker: Broker | None = None  # the live broker, for ledger requests between days
        self.day: DayRunner | None = None  # the trading day in progress, with its open books
        self.day_books: Any = None
        self.outputs: BotOutputs | None = None  # the bot's output tree, once launched
        self._requests_at = 0.0  # monotonic time of the last look at the request folder
        self._in_requests = False

    # -- flags and requests ---------------------------------------------------------------------
    def poll(self) -> bool:
        """Every wake-up of a sleep: during a trading day the ledger requests (every few
        seconds, so a sync or export asked between phases is not left until the evening),
        then the flags (a True result ends the sleep)."""
        if (
            self.day_books is not None
            and time.monotonic() - self._requests_at >= REQUEST_POLL_S
            and not self._phase_due_soon()
        ):
            self.answer_requests()
        return self.flag_pending()

    def _phase_due_soon(self) -> bool:
        """A pending phase starts within REQUEST_QUIET_S: a long export or a sync in broker
        retries must not make it miss its start, so requests wait until after it."""
        plan = self.day.plan if self.day is not None else None
        if plan is None:
            return False
        now = self.clock.now_utc()
        return any(
            p.status == "pending" and now <= p.start_utc <= now + timedelta(seconds=REQUEST_QUIET_S)
            for p in plan.phases
        )

    def answer_requests(self) -> None:
        """Ledger requests with the live broker and, during a day, the day's open books (sync
        and export wait while a phase's fills session is open; COA edits do not).

        Never raises: a request that breaks is answered `failed` by the processor, and anything
        else is logged, so a bad request file can neither fail a phase nor stop the runner.
        """
        if self._in_requests:  # a request's own sleep (a broker retry) must not start another
            return
        self._in_requests = True
        try:
            if process_ledger_requests(
                self.paths, self.clock, books=self.day_books, broker=self.broker
            ):
                self.publish_reconciliation()  # a requested sync changes what is open
        except Exception:
            logger.exception("answering ledger requests failed")
        finally:
            self._in_requests = False
            self._requests_at = time.monotonic()

    def flag_pending(self) -> bool:
        """Kill or Stop is waiting (a True result ends the clock's sleep)."""
        flags = pending_flags(self.paths)
        return flags.get("kill") is not None or flags.get("stop") is not None

    # -- status publishing ---------------------------------------------------------------------
    def write_positions(self, broker: Broker, now: datetime) -> None:
        """`positions.json` (web_runtime §8.4): every 60 s in market hours and after each phase."""
        positions = [
            {
                "symbol": p.symbol,
                "side": "long" if p.qty > 0 else "short",
                "qty": str(abs(p.qty)),
                "avg_entry_price": str(p.avg_entry_price),
                "market_price": str(p.market_price),
                "market_value": str(p.market_value),
            }
            for p in broker.get_positions()
        ]
        status_files.write_json(
            self.paths, "positions.json", {"as_of_utc": iso_utc(now), "positions": positions}
        )
        self.status.update(positions_count=len(positions))

    def phase_hook(
        self, plan: Any, broker: Broker
    ) -> Callable[[str, str, str | None, datetime], None]:
        """Keep schedule.json and the runner's phase fields current on every phase change."""
        document = schedule_json(plan, self.clock.now_utc())

        def hook(phase: str, status: str, reason: str | None, now: datetime) -> None:
            entry = document.setdefault("phases", {}).setdefault(phase, {})
            entry.update({"status": status, "reason": reason})
            entry["started_utc" if status == "running" else "ended_utc"] = iso_utc(now)
            status_files.write_json(self.paths, "schedule.json", document)
            if status != "running":
                self.write_positions(broker, now)
                self.publish_day_figures()
            upcoming = [p for p in plan.phases if p.start_utc > now and p.status == "pending"]
            self.status.update(
                active_strategy=phase if status == "running" else None,
                phase=phase if status == "running" else None,
                phase_started_utc=iso_utc(now) if status == "running" else None,
                next_phase=upcoming[0].name if upcoming else None,
                next_phase_utc=iso_utc(upcoming[0].start_utc) if upcoming else None,
            )

        return hook

    def publish_day_figures(self) -> None:
        """P&L and trades of the day, and the latest reconciliation, into the runner status."""
        context = self.day.context if self.day is not None else None
        if context is not None:
            self.status.update(**day_status(context))
        self.publish_reconciliation()

    def publish_reconciliation(self) -> None:
        """The latest sync and the open problems, read from the ledger (so a sync asked for
        through `tbot ledger sync` shows as well as the runner's own; accounting spec §6.5)."""
        if self.outputs is None:
            return
        try:
            self.status.update(reconciliation=reconciliation_summary(self.outputs))
        except (TbotError, sqlite3.Error) as exc:  # best effort; the next phase tries again
            logger.warning("reconciliation status unavailable: %s", exc)

    def on_tick(self, broker: Broker) -> Callable[[datetime], None]:
        """The day's tick hook: requests, day figures, the account, positions every 60 s."""
        last = {"positions": 0.0}  # epoch seconds of the last positions.json

        def hook(now: datetime) -> None:
            self.answer_requests()
            self.publish_day_figures()
            account = broker.get_account()
            self.status.update(
                account={
                    "as_of_utc": iso_utc(now),
                    "equity": str(account.equity),
                    "cash": str(account.cash),
                    "buying_power": str(account.buying_power),
                }
            )
            if now.timestamp() - last["positions"] >= 60:
                last["positions"] = now.timestamp()
                self.write_positions(broker, now)

        return hook
