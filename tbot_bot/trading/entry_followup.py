"""Following one desk's submitted entries until each is filled or unfilled (trading spec §4, §7.2).

Filled or not is decided from the order journal row, never from the fills applied so far; a filled
entry is counted once and handed to the exit manager, an unfilled one gives its slot and budget
back through the desk. Fills can arrive after the status that settled an entry, so an entry settled
either way may still turn into an open position later: tracking then re-opens (spec §1.3).

It is separate from `entries.py` because it is a role of its own with its own state: the desk
decides and submits entries, this follows them afterwards. Decision records still go through the
desk (`EntryDesk.log`, `EntryDesk.record_rejection`), so they keep the desk's module name.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tbot_bot.broker.models import OrderState
from tbot_bot.money import ZERO
from tbot_bot.strategy.base import Direction
from tbot_bot.trading.fills import late_filled_entries

if TYPE_CHECKING:  # the desk owns its follow-up; importing it at run time would be circular
    from tbot_bot.trading.entries import EntryDesk, PendingEntry

logger = logging.getLogger(__name__)


class EntryFollowup:
    """Settles the desk's pending entries and adopts entries whose fills came late."""

    def __init__(self, desk: EntryDesk) -> None:
        self.desk = desk
        # Entries settled as unfilled whose fill may still come (a lagging fills feed).
        self.given_up: dict[str, PendingEntry] = {}
        self.awaiting_fill: set[str] = set()  # settled as filled, no fill applied yet
        self.counted: set[str] = set()  # entries counted in `stats.entries`

    def follow_pending(self, now: datetime) -> None:
        """Time out working entries, settle finished ones, and adopt late-filled positions.

        Filled or not is the order's own state (the journal row's `filled_qty`, kept current by
        status polls and cancels), never the fills applied so far: the fills feed can lag the
        order status by a poll (Alpaca activities, IBKR execDetails after orderStatus), and an
        entry that filled must keep its slot, never hand it to a fallback (a second entry).
        """
        desk = self.desk
        timeout = timedelta(seconds=int(desk.settings.ENTRY_FILL_TIMEOUT_S))
        for cid, pending in list(desk.pending.items()):
            row = desk.ctx.orders.journal.require(cid)
            position = desk.ctx.positions.positions[cid]
            if row.state is OrderState.UNRESOLVED:
                continue  # slot and budget stay reserved while lookups go on
            if not row.is_terminal and now - pending.submitted >= timeout:
                row = desk.ctx.orders.cancel(cid)
            if not row.is_terminal:
                continue
            del desk.pending[cid]
            if row.filled_qty > ZERO or position.entry_qty > ZERO:
                self._track_entry(cid, pending.direction, pending.slot.number, now)
                continue
            reason = "broker_reject" if row.state is OrderState.REJECTED else "unfilled"
            desk.allocated -= pending.slot.allocation
            desk.stats.allocated -= pending.slot.allocation
            self.given_up[cid] = pending
            desk.record_rejection(now, pending.member, pending.slot, reason, cid)
        self._adopt_late_fills(now)

    def _track_entry(self, cid: str, direction: Direction, slot: int, now: datetime) -> None:
        """A filled entry: counted once and handed to the exit manager. Its fills may still be on
        their way; the trailing stop is armed when the position opens (`_adopt_late_fills`)."""
        desk = self.desk
        if cid not in self.counted:
            self.counted.add(cid)
            desk.stats.entries += 1
        desk.exits.track(cid, direction, slot, now)
        if not desk.ctx.positions.positions[cid].is_open:
            self.awaiting_fill.add(cid)

    def _adopt_late_fills(self, now: datetime) -> None:
        """Every open position of this session's entries ends up managed by the exit manager:
        a fill applied after its entry was settled as filled (`awaiting_fill`: the stop is armed
        now), or as unfilled (tracking re-opens), or, after a restart, an UNRESOLVED entry that
        resolved to filled once the resumed runner had re-armed what it knew (spec §1.3)."""
        desk = self.desk
        managed = {c for c in desk.exits.tracked if c not in self.awaiting_fill}
        skip = managed | set(desk.pending)
        for entry in late_filled_entries(desk.ctx, desk.strategy.name, desk.session_id, skip):
            cid = entry.client_order_id
            self.awaiting_fill.discard(cid)
            given_up = self.given_up.pop(cid, None)
            if given_up is not None:
                # The broker filled what it had reported unfilled: the budget is spent after all.
                desk.allocated += given_up.slot.allocation
                desk.stats.allocated += given_up.slot.allocation
            if cid not in desk.exits.tracked:
                logger.warning("entry %s filled after it was settled: tracked now", cid)
            meta = entry.context.meta
            direction = Direction(str(meta.get("direction") or Direction.LONG.value))
            self._track_entry(cid, direction, int(meta.get("slot") or 1), now)
