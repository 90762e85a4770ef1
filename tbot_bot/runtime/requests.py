"""Request files between the web/CLI and the runtime (web_runtime §1.3).

A request is `control/requests/<uuid>.json` = `{id, type, params, requested_by,
requested_at_utc}`, written atomically by `submit_request`. Whoever runs it writes
`<uuid>.result.json` = `{id, status: done|failed|rejected, started_utc, ended_utc, message}` and
then removes the request (result first, so a crash in between never loses the outcome and never
runs a request twice).

`process_ledger_requests` runs the ledger types (`coa_publish`, `coa_rollback`, `ledger_export`,
`ledger_sync`, `ledger_opening_balance`; handlers in `request_handlers`) under the ledger writer
lock: it opens the books itself, or uses the `Books` the caller already holds (the runner during a
trading day). The broker requests use the caller's live broker, else one built by
`broker_factory` on first need. `restart_web` belongs to main and is left alone; any other type is
answered `rejected`. A result may carry extra fields besides the five above (`files` of an export,
`blocked` when an export was refused by its preconditions, `sync_run_id` of a sync).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tbot_bot.accounting.books import Books, open_books
from tbot_bot.accounting.exports import ExportBlocked
from tbot_bot.broker.base import Broker
from tbot_bot.clock import Clock, SystemClock, iso_utc
from tbot_bot.config.fileio import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    atomic_write_text,
    ensure_dir,
)
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact_text
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError, TbotError
from tbot_bot.runtime.request_handlers import (
    HANDLERS,
    SESSION_TYPES,
    BrokerSource,
    LedgerRequest,
    RequestError,
)

logger = logging.getLogger(__name__)

__all__ = [
    "LedgerRequest",
    "RequestError",
    "is_pending",
    "open_bot_books",
    "process_ledger_requests",
    "read_result",
    "submit_request",
    "valid_request_id",
    "write_result",
]
LEDGER_TYPES = frozenset(HANDLERS)
MAIN_TYPES = frozenset({"restart_web"})
REQUEST_TYPES = LEDGER_TYPES | MAIN_TYPES
STATUSES = ("done", "failed", "rejected")
# WriterLock's wording when another process (the runner) holds the ledger: the request stays
# pending for that writer instead of failing.
LOCK_HELD_TEXT = "held by another writer"


def submit_request(
    paths: RuntimePaths,
    request_type: str,
    params: Mapping[str, Any] | None,
    actor: str,
    *,
    clock: Clock | None = None,
) -> str:
    """Write one allowlisted request atomically; returns its id (a UUIDv4)."""
    if request_type not in REQUEST_TYPES:
        raise ConfigError(
            f"request type {request_type!r} is not allowlisted; expected one of "
            f"{sorted(REQUEST_TYPES)}"
        )
    request_id = str(uuid.uuid4())
    body = {
        "id": request_id,
        "type": request_type,
        "params": dict(params or {}),
        "requested_by": actor,
        "requested_at_utc": iso_utc((clock or SystemClock()).now_utc()),
    }
    ensure_dir(paths.requests_dir, PRIVATE_DIR_MODE)
    atomic_write_text(paths.request_file(request_id), json.dumps(body) + "\n", PRIVATE_FILE_MODE)
    return request_id


def valid_request_id(request_id: str) -> bool:
    """True for the canonical UUID text `submit_request` produces."""
    try:
        return str(uuid.UUID(request_id)) == request_id
    except ValueError:
        return False


def read_result(paths: RuntimePaths, request_id: str) -> dict[str, Any] | None:
    """The result of `request_id`, or None while it is pending (or unreadable)."""
    path = paths.request_file(request_id, result=True)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and body.get("status") in STATUSES else None


def is_pending(paths: RuntimePaths, request_id: str) -> bool:
    return paths.request_file(request_id).exists()


# -- the processor -------------------------------------------------------------------------------
def process_ledger_requests(
    paths: RuntimePaths,
    clock: Clock,
    *,
    books: Books | None = None,
    broker: Broker | None = None,
    broker_factory: Callable[[], Broker] | None = None,
) -> list[str]:
    """Run every pending ledger request; returns the ids answered (in order).

    Without `books`, the ledgers are opened (and the writer lock taken) only when there is work;
    if another process holds the lock the requests stay pending for it. `ledger_sync` and
    `ledger_opening_balance` use `broker` (the runner's live one), else one `broker_factory()`
    builds on first need and this call closes; with neither they are answered `failed`.
    """
    pending = _pending(paths)
    answered: list[str] = []
    ledger_work: list[LedgerRequest] = []
    for item in pending:
        if isinstance(item, tuple):  # unreadable file: (path, reason)
            answered.extend(_reject_unreadable(paths, clock, *item))
        elif item.type in MAIN_TYPES:
            continue
        elif item.type not in LEDGER_TYPES:
            _finish(paths, clock, item, iso_utc(clock.now_utc()), "rejected", _unknown(item))
            answered.append(item.id)
        else:
            ledger_work.append(item)
    session = books.current_session if books is not None else None
    if session is not None:
        # The runner's phase session is open: requests that need their own session wait, and
        # during any other session (a sync in broker retries) every request waits, so a COA
        # publish never lands in the middle of a sync run.
        ledger_work = [
            item
            for item in ledger_work
            if item.type not in SESSION_TYPES and session.kind == "fills"
        ]
    if ledger_work:
        brokers = BrokerSource(broker, broker_factory)
        try:
            answered.extend(_run_ledger_work(paths, clock, ledger_work, books, brokers))
        finally:
            brokers.close()
    return answered


def _unknown(item: LedgerRequest) -> str:
    return f"request type {item.type!r} is not handled here; expected one of {sorted(LEDGER_TYPES)}"


def _run_ledger_work(
    paths: RuntimePaths,
    clock: Clock,
    work: list[LedgerRequest],
    books: Books | None,
    brokers: BrokerSource,
) -> list[str]:
    if books is not None:
        return [_run_one(paths, clock, books, item, brokers) for item in work]
    try:
        opened = open_bot_books(paths, clock)
    except TbotError as exc:
        if LOCK_HELD_TEXT in str(exc):
            logger.info("ledger requests stay pending: %s", exc)
            return []
        started = iso_utc(clock.now_utc())
        for item in work:
            _finish(paths, clock, item, started, "failed", f"could not open the ledgers: {exc}")
        return [item.id for item in work]
    try:
        return [_run_one(paths, clock, opened, item, brokers) for item in work]
    finally:
        opened.close()


def open_bot_books(paths: RuntimePaths, clock: Clock, *, actor: str = "requests") -> Books:
    """Open this home's bot ledgers for writing (takes the writer lock; caller closes)."""
    manager = SecretsManager(paths)
    if not manager.has_secret("bot_identity"):
        raise ConfigError("no bot identity yet (setup is not complete)")
    identity = BotIdentity.from_record(manager.load("bot_identity"))
    outputs = paths.bot_outputs(identity.string)
    return open_books(outputs, identity, actor=actor, paths=paths, clock=clock)


def _run_one(
    paths: RuntimePaths, clock: Clock, books: Books, item: LedgerRequest, brokers: BrokerSource
) -> str:
    started = iso_utc(clock.now_utc())
    if paths.request_file(item.id, result=True).exists():
        # Crashed after writing the result last time: only the removal is left to do.
        item.path.unlink(missing_ok=True)
        return item.id
    handler = HANDLERS[item.type]
    try:
        answer = handler(books, item, brokers)
    except RequestError as exc:
        _finish(paths, clock, item, started, "rejected", str(exc))
    except TbotError as exc:
        logger.warning("request %s (%s) failed: %s", item.id, item.type, exc)
        # An export refused by its preconditions is "blocked" (`tbot ledger export` exits 1).
        extra = {"blocked": True} if isinstance(exc, ExportBlocked) else None
        _finish(paths, clock, item, started, "failed", redact_text(str(exc)), extra)
    except Exception as exc:
        # Anything else is a defect or input no check caught: answer it once (so the file does
        # not come back on every poll and take the runner or main down with it) and log why.
        logger.exception("request %s (%s) broke", item.id, item.type)
        message = f"unexpected {type(exc).__name__}: {redact_text(str(exc))}"
        _finish(paths, clock, item, started, "failed", message)
    else:
        logger.info("request %s (%s) done: %s", item.id, item.type, answer.message)
        _finish(paths, clock, item, started, "done", answer.message, answer.extra)
    return item.id


def _finish(
    paths: RuntimePaths,
    clock: Clock,
    item: LedgerRequest,
    started: str,
    status: str,
    message: str,
    extra: Mapping[str, Any] | None = None,
) -> None:
    write_result(paths, clock, item.id, item.path, started, status, message, extra=extra)


def write_result(
    paths: RuntimePaths,
    clock: Clock,
    request_id: str,
    request_path: Path,
    started_utc: str,
    status: str,
    message: str,
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Answer a request: `<id>.result.json` written atomically first, then the request removed
    (so a request that already has a result is never run again). `extra` adds fields; it never
    replaces the five of web_runtime §1.3."""
    result = {
        **(extra or {}),
        "id": request_id,
        "status": status,
        "started_utc": started_utc,
        "ended_utc": iso_utc(clock.now_utc()),
        "message": message,
    }
    atomic_write_text(
        paths.request_file(request_id, result=True), json.dumps(result) + "\n", PRIVATE_FILE_MODE
    )
    request_path.unlink(missing_ok=True)
    return result


# -- reading request files -----------------------------------------------------------------------
def _pending(paths: RuntimePaths) -> list[LedgerRequest | tuple[Path, str]]:
    folder = paths.requests_dir
    if not folder.is_dir():
        return []
    found: list[LedgerRequest | tuple[Path, str]] = []
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(".result.json"):
            continue
        try:
            found.append(_parse(path))
        except (OSError, ValueError) as exc:
            found.append((path, str(exc)))
    # Oldest first: a rollback sent after a publish must run after it.
    return sorted(found, key=_age_key)


def _age_key(item: LedgerRequest | tuple[Path, str]) -> tuple[str, int, str]:
    """Request time, then file time (ties within one millisecond), then name."""
    path = item[0] if isinstance(item, tuple) else item.path
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return ("" if isinstance(item, tuple) else item.requested_at_utc, mtime, path.name)


def _parse(path: Path) -> LedgerRequest:
    body = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(body, dict):
        raise ValueError(f"{path.name}: expected a JSON object")
    request_id, params = body.get("id"), body.get("params", {})
    if request_id != path.name.removesuffix(".json") or not valid_request_id(str(request_id)):
        raise ValueError(f"{path.name}: id {request_id!r} must be the file's UUID")
    if not isinstance(params, dict):
        raise ValueError(f"{path.name}: params must be an object, got {type(params).__name__}")
    return LedgerRequest(
        id=str(request_id),
        type=str(body.get("type")),
        params=params,
        requested_by=str(body.get("requested_by") or "unknown"),
        requested_at_utc=str(body.get("requested_at_utc") or ""),
        path=path,
    )


def _reject_unreadable(paths: RuntimePaths, clock: Clock, path: Path, reason: str) -> list[str]:
    """Answer a broken file when its name is a UUID (someone may wait on it); else drop it."""
    stem = path.name.removesuffix(".json")
    logger.warning("unreadable request file %s: %s", path.name, reason)
    if not valid_request_id(stem):
        path.unlink(missing_ok=True)
        return []
    item = LedgerRequest(stem, "unknown", {}, "unknown", "", path)
    _finish(paths, clock, item, iso_utc(clock.now_utc()), "rejected", f"unreadable: {reason}")
    return [stem]
