"""The ledger request handlers (web_runtime §1.3; accounting spec §2.3, §6.1, §6.4, §9).

Each handler gets the open `Books`, the parsed request and a `BrokerSource`, and returns an
`Answer` (the result message plus optional extra result fields). Malformed params raise
`RequestError` (answered `rejected`); a refused write raises a `TbotError` (answered `failed`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tbot_bot.accounting.books import Books
from tbot_bot.accounting.exports import FORMATS, MAX_DAYS, export_day
from tbot_bot.accounting.sync import (
    AUTHORITATIVE_TRIGGERS,
    opening_balance_from_broker,
    opening_balance_posted,
    sync_broker,
)
from tbot_bot.broker.base import Broker
from tbot_bot.clock import iso_utc, parse_iso_utc
from tbot_bot.errors import ConfigError, StateError
from tbot_bot.market.calendar import TradingCalendar, trading_date_of
from tbot_bot.reporting.bot_logs import BotLogs
from tbot_bot.reporting.recon_log import log_reconciliation_problems
from tbot_bot.runtime.provisioning import load_runtime_config

logger = logging.getLogger(__name__)
MAX_REASON = 200
MAX_CHANGES = 200
# A request may name only the triggers whose reconciliation is authoritative (accounting §6.5);
# the phase triggers (open, mid, close, fills, ...) belong to the runner.
SYNC_TRIGGERS = tuple(sorted(AUTHORITATIVE_TRIGGERS))
# How far back an opening-balance cutover may be (positions are read now; clock skew allowance).
MAX_CUTOVER_AGE = timedelta(minutes=5)
CUTOVER_FORMAT = "ISO-8601 UTC such as 2025-07-15T13:30:00Z (or with an explicit offset)"


class RequestError(ValueError):
    """A request's params are malformed (the request is answered `rejected`)."""


@dataclass(frozen=True)
class LedgerRequest:
    """One parsed request file."""

    id: str
    type: str
    params: dict[str, Any]
    requested_by: str
    requested_at_utc: str
    path: Path


@dataclass(frozen=True)
class Answer:
    """A handler's outcome: the result message and extra result-file fields (e.g. `files`)."""

    message: str
    extra: Mapping[str, Any] = field(default_factory=dict)


class BrokerSource:
    """The broker for the handlers that need one: the caller's live broker, else one built by
    `factory` on first use (closed by `close()`), else none (those requests fail)."""

    def __init__(
        self, broker: Broker | None = None, factory: Callable[[], Broker] | None = None
    ) -> None:
        self._broker = broker
        self._factory = factory
        self._built = False

    def get(self) -> Broker:
        if self._broker is None:
            if self._factory is None:
                raise StateError(
                    "no broker is available to this request worker; the runner (or `tbot "
                    "ledger` on the bot's host) answers broker requests"
                )
            self._broker = self._factory()
            self._built = True
        return self._broker

    def close(self) -> None:
        if self._built and self._broker is not None:
            self._broker.close()
            self._broker, self._built = None, False


Handler = Callable[[Books, LedgerRequest, BrokerSource], Answer]


# -- COA ------------------------------------------------------------------------------------------
def _reason(item: LedgerRequest) -> str:
    reason = item.params.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise RequestError(f"{item.type}: params.reason must be a non-empty string")
    return reason.strip()[:MAX_REASON]


def _coa_publish(books: Books, item: LedgerRequest, _: BrokerSource) -> Answer:
    changes = item.params.get("changes")
    if not isinstance(changes, list) or not changes or len(changes) > MAX_CHANGES:
        raise RequestError(f"coa_publish: params.changes must be a list of 1..{MAX_CHANGES}")
    if not all(isinstance(c, dict) and isinstance(c.get("code"), str) for c in changes):
        raise RequestError("coa_publish: every change must be an object with a string code")
    version = books.publish_coa(changes, actor=item.requested_by, reason=_reason(item))
    return Answer(f"published COA version {version}")


def _coa_rollback(books: Books, item: LedgerRequest, _: BrokerSource) -> Answer:
    target = item.params.get("to_version")
    if not isinstance(target, str) or not target:
        raise RequestError("coa_rollback: params.to_version must be a version string")
    version = books.rollback_coa(target, actor=item.requested_by, reason=_reason(item))
    return Answer(f"rolled back to COA version {target} as new version {version}")


# -- exports --------------------------------------------------------------------------------------
def _day(item: LedgerRequest, key: str) -> date:
    raw = item.params.get(key)
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise RequestError(f"ledger_export: params.{key} must be YYYY-MM-DD, got {raw!r}") from None


def _ledger_export(books: Books, item: LedgerRequest, _: BrokerSource) -> Answer:
    fmt = item.params.get("format")
    if fmt not in FORMATS:
        raise RequestError(f"ledger_export: params.format must be one of {FORMATS}, got {fmt!r}")
    first, last = _day(item, "from"), _day(item, "to")
    if last < first or (last - first).days >= MAX_DAYS:
        raise RequestError(f"ledger_export: range {first}..{last} must be ascending, <= {MAX_DAYS}")
    files: list[Path] = []
    with books.session("export"):
        day = first
        while day <= last:
            files.extend(export_day(books, day, (str(fmt),)).files)
            day += timedelta(days=1)
    return Answer(
        f"exported {len(files)} file(s) for {first}..{last}", {"files": [str(f) for f in files]}
    )


# -- broker sync and opening balance --------------------------------------------------------------
def _ledger_sync(books: Books, item: LedgerRequest, brokers: BrokerSource) -> Answer:
    trigger = item.params.get("trigger", "manual")
    if trigger not in SYNC_TRIGGERS:
        raise RequestError(
            f"ledger_sync: params.trigger {trigger!r} must be one of {list(SYNC_TRIGGERS)}"
        )
    broker = brokers.get()
    # §6.5: cash and positions are authoritative at the day's end; a sync asked for while the
    # market is open is an intraday run (its cash/position rows are INTRADAY), unless `eod`.
    authoritative = trigger == "eod" or not _market_open(books.clock.now_utc())
    result = sync_broker(
        books,
        broker,
        trigger=str(trigger),
        actor=item.requested_by,
        authoritative=authoritative,
    )
    counts = result.counts
    problems = log_reconciliation_problems(
        BotLogs(books.outputs, _log_format(books)),
        result,
        trigger=str(trigger),
        broker=broker.name,
        now_utc=iso_utc(books.clock.now_utc()),
    )
    message = (
        f"sync {result.sync_run_id} {result.status} (trigger {trigger}): fetched "
        f"{counts.get('fetched', 0)}, inserted {counts.get('inserted', 0)}, duplicates "
        f"{counts.get('duplicates', 0)}, queued {counts.get('skipped_unmapped', 0)}; "
        f"{problems} reconciliation problem(s)"
        + ("" if authoritative else " (market open: cash and positions checked as intraday)")
    )
    return Answer(message, {"sync_run_id": result.sync_run_id, "sync_status": result.status})


def _market_open(now: datetime) -> bool:
    """True inside an XNYS session (between its open and its close, early closes included)."""
    day = trading_date_of(now)
    calendar = TradingCalendar(day - timedelta(days=1), day + timedelta(days=1))
    if not calendar.is_session(day):
        return False
    opens, closes = calendar.session_bounds(day)
    return opens <= now < closes


def _log_format(books: Books) -> str:
    """The bot's LOG_FORMAT, so request syncs write the same log format as the runner."""
    try:
        return str(load_runtime_config(books.paths).settings.LOG_FORMAT)
    except ConfigError as exc:
        logger.warning("LOG_FORMAT unreadable (%s); unresolved lines written as json", exc)
        return "json"


def _cutover(item: LedgerRequest, now: datetime) -> datetime:
    """params.cutover (default now), to whole milliseconds; never in the future."""
    raw = item.params.get("cutover")
    if raw is None or raw == "":
        cutover = now
    else:
        try:
            cutover = parse_iso_utc(str(raw))
        except ValueError:
            raise RequestError(
                f"ledger_opening_balance: params.cutover {raw!r} is not a timestamp; expected "
                f"{CUTOVER_FORMAT}"
            ) from None
        if cutover > now:
            raise RequestError(
                f"ledger_opening_balance: params.cutover {raw!r} is in the future (now "
                f"{iso_utc(now)}); expected a past {CUTOVER_FORMAT}"
            )
        if cutover < now - MAX_CUTOVER_AGE:
            # The broker reports positions and cash as of now; dated earlier, every activity
            # since the cutover would be in the opening balance and imported again (§6.4).
            raise RequestError(
                f"ledger_opening_balance: params.cutover {raw!r} is more than "
                f"{MAX_CUTOVER_AGE.seconds // 60} minutes before now ({iso_utc(now)}); the "
                "broker reports positions and cash as of now, so the cutover must be recent"
            )
    return cutover.replace(microsecond=cutover.microsecond // 1000 * 1000)


def _ledger_opening_balance(books: Books, item: LedgerRequest, brokers: BrokerSource) -> Answer:
    cutover = _cutover(item, books.clock.now_utc())
    posted = opening_balance_posted(books)
    if posted is None:
        result = opening_balance_from_broker(
            books, brokers.get(), cutover=cutover, actor=item.requested_by
        )
        if result is not None and result.posted:
            what = f"event {result.fitids[0]}" if result.fitids else "no positions and no cash"
            return Answer(
                f"opening balance posted at cutover {iso_utc(cutover)} ({what})",
                {"cutover_utc": iso_utc(cutover)},
            )
        posted = opening_balance_posted(books)
    return Answer(f"opening balance already posted ({posted}); nothing written")


# -- opening-balance basis fix --------------------------------------------------------------------
def _ledger_adjust_basis(books: Books, item: LedgerRequest, _: BrokerSource) -> Answer:
    """ADJUSTMENT of an opening-balance lot's basis (accounting spec §4.2, §6.4)."""
    lot_id, raw = item.params.get("lot_id"), item.params.get("basis")
    if isinstance(lot_id, bool) or not isinstance(lot_id, int) or lot_id <= 0:
        raise RequestError(
            f"ledger_adjust_basis: params.lot_id must be a positive integer, got {lot_id!r}"
        )
    try:
        basis = Decimal(str(raw)) if isinstance(raw, str | int) else None
    except InvalidOperation:
        basis = None
    if basis is None or not basis.is_finite():
        raise RequestError(
            f"ledger_adjust_basis: params.basis must be a decimal amount such as '1523.40', "
            f"got {raw!r}"
        )
    with books.session("manual"):
        result = books.adjust_opening_basis(
            lot_id, basis, reason=_reason(item), actor=item.requested_by
        )
    fitid = result.fitids[0] if result.fitids else None
    return Answer(f"lot {lot_id}: basis set to {basis} (event {fitid})", {"fitid": fitid})


HANDLERS: dict[str, Handler] = {
    "coa_publish": _coa_publish,
    "coa_rollback": _coa_rollback,
    "ledger_export": _ledger_export,
    "ledger_sync": _ledger_sync,
    "ledger_opening_balance": _ledger_opening_balance,
    "ledger_adjust_basis": _ledger_adjust_basis,
}
# These open a write session; they wait while the caller's books already have one open (the
# runner's `fills` session during a phase) instead of failing.
SESSION_TYPES = frozenset(
    {"ledger_export", "ledger_sync", "ledger_opening_balance", "ledger_adjust_basis"}
)
