"""FIFO lots and realized P&L (accounting spec §5): pure allocation plus the writer's lot reader.

Allocation is integer-only. Closed basis per lot = floor(basis_remaining x close_qty /
qty_remaining), except that taking a lot's last units takes all its remaining basis, so the
closures of a lot always sum exactly to its basis. Proceeds (or cover cost) are split over the
lots of one close by largest remainder, so the shares sum exactly to G.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from tbot_bot.accounting.codec import parse_ts_text
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.errors import LedgerError

LONG_TERM_AFTER = timedelta(days=365)


@dataclass(frozen=True)
class LotState:
    """An open lot as the allocator sees it."""

    lot_id: int
    opened_at_utc: str
    qty_remaining_e9: int
    basis_remaining_minor: int
    term_start_utc: str | None = None


@dataclass(frozen=True)
class Closure:
    lot_id: int
    qty_e9: int
    basis_minor: int
    proceeds_minor: int
    realized_minor: int
    term: str
    closed_at_utc: str


def fifo_order(lots: Sequence[LotState]) -> list[LotState]:
    return sorted(lots, key=lambda lot: (lot.opened_at_utc, lot.lot_id))


def open_qty(lots: Sequence[LotState]) -> int:
    return sum(lot.qty_remaining_e9 for lot in lots)


def split_largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` over `weights` by largest remainder; ties go to the earlier weight."""
    denominator = sum(weights)
    if denominator <= 0:
        raise LedgerError("cannot split an amount over zero weights")
    shares = [total * w // denominator for w in weights]
    remainders = [total * w % denominator for w in weights]
    leftover = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        shares[i] += 1
    return shares


def term_of(term_start_utc: str | None, closed_at_utc: str) -> str:
    if term_start_utc is None:
        return "UNKNOWN"
    held = parse_ts_text(closed_at_utc) - parse_ts_text(term_start_utc)
    return "LT" if held > LONG_TERM_AFTER else "ST"


def allocate_close(
    lots: Sequence[LotState], qty_e9: int, amount_minor: int, closed_at_utc: str, side: str
) -> list[Closure]:
    """Close `qty_e9` FIFO; `amount_minor` is the proceeds (long) or cover cost (short)."""
    if qty_e9 <= 0:
        raise LedgerError("a close needs a positive quantity")
    if open_qty(lots) < qty_e9:
        raise LedgerError(f"close of {qty_e9} e9 units exceeds open quantity {open_qty(lots)}")
    takes: list[tuple[LotState, int, int]] = []
    needed = qty_e9
    for lot in fifo_order(lots):
        if needed == 0:
            break
        take = min(needed, lot.qty_remaining_e9)
        if take == lot.qty_remaining_e9:
            basis = lot.basis_remaining_minor
        else:
            basis = lot.basis_remaining_minor * take // lot.qty_remaining_e9
        takes.append((lot, take, basis))
        needed -= take
    shares = split_largest_remainder(amount_minor, [take for _, take, _ in takes])
    closures = []
    for (lot, take, basis), share in zip(takes, shares, strict=True):
        realized = share - basis if side == "long" else basis - share
        closures.append(
            Closure(
                lot.lot_id,
                take,
                basis,
                share,
                realized,
                term_of(lot.term_start_utc, closed_at_utc),
                closed_at_utc,
            )
        )
    return closures


class LotReader:
    """Reads open lots inside the writer's transaction.

    FIFO closes consume the oldest lots, so fully closed lots pile up at low ids. A per
    (symbol, side) low-water mark skips them; only a reversal can reopen a lot, so reversals and
    any rolled-back transaction reset the marks (`reset`).
    """

    def __init__(self) -> None:
        self._marks: dict[tuple[str, str], int] = {}

    def reset(self, symbol: str | None = None) -> None:
        if symbol is None:
            self._marks.clear()
        else:
            for key in [k for k in self._marks if k[0] == symbol]:
                del self._marks[key]

    def open_lots(self, conn: sqlite3.Connection, symbol: str, side: str) -> list[LotState]:
        mark = self._marks.get((symbol, side), 0)
        rows = conn.execute(
            sql("ledger_write", "open_lots_from"), {"symbol": symbol, "side": side, "min_id": mark}
        ).fetchall()
        lots = [
            LotState(int(r[0]), str(r[1]), int(r[3]), int(r[4]), r[2])
            for r in rows
            if int(r[3]) > 0
        ]
        if rows:
            self._marks[(symbol, side)] = min(
                (lot.lot_id for lot in lots), default=int(rows[-1][0]) + 1
            )
        return fifo_order(lots)
