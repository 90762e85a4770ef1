"""`sync_broker`: fetch, store raw, dedup, post, reconcile (accounting spec §6.1, §6.4).

The runner posts fills as they happen; the sync after each phase only deduplicates what the
runner posted, posts what was missed (fills while offline, cash activities) and reconciles. The
first sync of an empty ledger posts the opening balance at the cutover instead of importing
history; `opening_balance_from_broker` posts it alone at a chosen cutover (`tbot ledger
opening-balance`). Adapter failures raise: the run is marked `failed`, committed events and raw
records stay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tbot_bot.accounting import intake
from tbot_bot.accounting.books import Books
from tbot_bot.accounting.codec import parse_ts_text, plain_decimal, to_minor_exact
from tbot_bot.accounting.models import (
    NormalizedRecord,
    OpeningPosition,
    PostResult,
    SyncResult,
)
from tbot_bot.accounting.normalize import normalize_activity, normalize_fill
from tbot_bot.accounting.reconcile import reconcile
from tbot_bot.accounting.schema import transaction
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.broker.base import Broker
from tbot_bot.broker.models import Account, AssetClass, Position
from tbot_bot.clock import iso_utc
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, ensure_dir
from tbot_bot.errors import LedgerError

logger = logging.getLogger(__name__)
Annotate = Callable[[str], Mapping[str, str] | None]
AUTHORITATIVE_TRIGGERS = frozenset({"eod", "manual", "cli"})
SYNC_LOG = "ledger_sync.log"
BATCH = 500


@dataclass(frozen=True)
class _Fetched:
    account: Account
    positions: list[Position]
    records: list[NormalizedRecord]


def sync_broker(
    books: Books,
    broker: Broker,
    *,
    trigger: str,
    actor: str,
    annotate: Annotate | None = None,
    overlap: timedelta = timedelta(days=3),
    authoritative: bool | None = None,
) -> SyncResult:
    """One sync run; `annotate(broker_order_id)` returns the runner's order annotations.

    `authoritative` (default: by trigger) makes the cash and position checks count (§6.5);
    otherwise they are recorded as INTRADAY rows that block nothing.
    """
    _require_clean(books, "sync")
    started = time.monotonic_ns()
    now = books.clock.now_utc()
    window_end = now - timedelta(minutes=1)
    window_start = _window_start(books, overlap)
    with books.session(
        "sync", trigger=trigger, window_start_utc=window_start, window_end_utc=iso_utc(window_end)
    ) as session:
        fetched = _fetch(books, broker, window_start, window_end, annotate)
        session.counts["fetched"] = len(fetched.records)
        trades = sum(1 for r in fetched.records if r.kind == "fill")
        raw_ids, holding_ids = _store_raw(books, fetched, session.sync_run_id)
        if opening_balance_posted(books) is None:
            _opening_balance(books, fetched, now, actor, holding_ids)
            fetched = _Fetched(
                fetched.account, fetched.positions, [r for r in fetched.records if r.dtposted > now]
            )
        ordered = sorted(fetched.records, key=lambda r: (r.dtposted, r.external_id))
        for start in range(0, len(ordered), BATCH):
            books.post_many(ordered[start : start + BATCH])
        window = (window_start or "0000-01-01T00:00:00.000Z", iso_utc(window_end))
        recon = reconcile(
            books,
            account=fetched.account,
            positions=fetched.positions,
            records=fetched.records,
            raw_ids=raw_ids,
            window=window,
            authoritative=(
                trigger in AUTHORITATIVE_TRIGGERS if authoritative is None else authoritative
            ),
        )
        counts = {
            **session.counts,
            "fetched_trades": trades,
            "fetched_cash": len(fetched.records) - trades,
        }
        run_id, status = session.sync_run_id, session.status
    result = SyncResult(run_id, status, counts, tuple(recon), window_start, iso_utc(window_end))
    _metrics_line(books, result, started)
    return result


def opening_balance_from_broker(
    books: Books, broker: Broker, *, cutover: datetime, actor: str
) -> PostResult | None:
    """Post the opening balance alone (§6.4): the broker's positions and cash, dated at `cutover`.

    Re-entrant: returns None without writing anything when it is already posted or the ledger
    has events (see `opening_balance_posted`). Later syncs import only activities after it.
    """
    if opening_balance_posted(books) is not None:
        return None
    _require_clean(books, "opening balance")
    with books.session("opening_balance") as session:
        fetched = _Fetched(broker.get_account(), broker.get_positions(), [])
        _, holding_ids = _store_raw(books, fetched, session.sync_run_id)
        return _opening_balance(books, fetched, cutover, actor, holding_ids)


def opening_balance_posted(books: Books) -> str | None:
    """Why the opening balance can no longer be posted (§6.4), or None while it still can."""
    posted = books.meta.get("opening_balances_posted")
    if posted is not None:
        cutover = books.meta.get("ob_cutover_utc")
        return f"ledger_meta.opening_balances_posted={posted}, cutover {cutover}"
    events = int(books.ledger.execute(sql("ledger_write", "count_events")).fetchone()[0])
    return f"the ledger already has {events} event(s)" if events else None


def _require_clean(books: Books, what: str) -> None:
    """§6.1 step 0: verify has no errors and the ledger is ACTIVE."""
    from tbot_bot.accounting.verify import verify

    errors = [i for i in verify(books.outputs, books.identity) if i.is_error]
    if errors:
        raise LedgerError(
            f"{what} refused: verify found {len(errors)} error(s), first {errors[0].code}"
        )
    books.require_active()


def _window_start(books: Books, overlap: timedelta) -> str | None:
    last = books.ledger.execute(sql("ledger_write", "last_broker_dtposted")).fetchone()[0]
    candidates = []
    if last:
        candidates.append(iso_utc(parse_ts_text(last) - overlap))
    if books.cutover is not None:
        candidates.append(iso_utc(books.cutover))
    return max(candidates) if candidates else None


def _fetch(
    books: Books, broker: Broker, start: str | None, end: datetime, annotate: Annotate | None
) -> _Fetched:
    since = parse_ts_text(start) if start else None
    fills = broker.get_fills(since)
    activities = broker.get_activities(since)
    positions = broker.get_positions()
    account = broker.get_account()
    code = books.identity.broker_code
    records: list[NormalizedRecord] = []
    for fill in fills:
        if fill.ts_utc > end:
            continue
        meta = annotate(fill.broker_order_id) if annotate else None
        records.append(
            normalize_fill(fill, broker_code=code, account_id=account.account_id, metadata=meta)
        )
    for activity in activities:
        if activity.ts_utc <= end:
            records.append(
                normalize_activity(
                    activity,
                    broker_code=code,
                    account_id=account.account_id,
                    currency=account.currency,
                )
            )
    return _Fetched(account, positions, records)


def _store_raw(books: Books, fetched: _Fetched, run_id: str) -> tuple[dict[str, int], list[int]]:
    """Raw records in their own transaction, before any posting (§6.1 step 5).

    Returns the raw id of each activity/fill by external id, and the raw ids of the position
    and account records (the opening balance's audit row names them, §6.4).
    """
    now, code = books.now_text(), books.identity.broker_code
    ids: dict[str, int] = {}
    holdings: list[int] = []
    with transaction(books.ledger):
        for record in fetched.records:
            ids[record.external_id] = intake.store_record(books.ledger, record, now, run_id)[0]
        for position in fetched.positions:
            raw_id, _ = intake.store_raw(
                books.ledger,
                broker_code=code,
                record_kind="position",
                external_id=position.symbol,
                payload=_position_payload(position, now),
                now=now,
                sync_run_id=run_id,
            )
            holdings.append(raw_id)
        account = fetched.account
        raw_id, _ = intake.store_raw(
            books.ledger,
            broker_code=code,
            record_kind="account",
            external_id=None,
            payload={
                "cash": plain_decimal(account.cash),
                "equity": plain_decimal(account.equity),
                "currency": account.currency,
                "as_of": now,
            },
            now=now,
            sync_run_id=run_id,
        )
        holdings.append(raw_id)
    return ids, holdings


def _position_payload(position: Position, now: str) -> dict[str, str | None]:
    price = position.market_price
    return {
        "symbol": position.symbol,
        "qty": plain_decimal(position.qty),
        "avg_entry_price": plain_decimal(position.avg_entry_price),
        "market_price": None if price is None else plain_decimal(price),
        "asset_class": str(position.asset_class),
        "as_of": now,
    }


def _opening_balance(
    books: Books, fetched: _Fetched, cutover: datetime, actor: str, raw_record_ids: list[int]
) -> PostResult:
    positions = []
    for p in fetched.positions:
        option = p.asset_class is AssetClass.OPTION
        multiplier = 100 if option else 1
        basis = abs(p.qty) * p.avg_entry_price * multiplier if p.avg_entry_price > 0 else None
        value = None if p.market_value is None else abs(p.market_value) * multiplier
        positions.append(
            OpeningPosition(
                p.symbol, p.qty, basis, value, "option" if option else "equity", multiplier
            )
        )
    cash = to_minor_exact(
        Decimal(fetched.account.cash), books.currencies.get(fetched.account.currency, 2)
    )
    return books.post_opening_balance(
        positions,
        cash,
        cutover,
        actor=actor,
        raw_record_ids=raw_record_ids,
        position_source="broker_positions",
    )


def _metrics_line(books: Books, result: SyncResult, started_ns: int) -> None:
    """One JSON metrics line per run in the global sync log (§6.1 step 12)."""
    record = {
        "ts_utc": books.now_text(),
        "bot_identity": books.identity.string,
        "sync_run_id": result.sync_run_id,
        "broker": books.identity.broker_code,
        "fetched_trades": result.counts.get("fetched_trades", 0),
        "fetched_cash": result.counts.get("fetched_cash", 0),
        "inserted_rows": result.counts.get("inserted", 0),
        "skipped_duplicates": result.counts.get("duplicates", 0),
        "skipped_unmapped": result.counts.get("skipped_unmapped", 0),
        "mapping_version": books.mapping.version,
        "duration_ms": (time.monotonic_ns() - started_ns) // 1_000_000,
        "status": result.status,
        "error": result.error,
    }
    ensure_dir(books.paths.global_logs_dir, OUTPUT_DIR_MODE)
    append_json_line(books.paths.global_log(SYNC_LOG), record)
