"""Universe files in `output/screeners/`, the atomic publish and the loader (trading spec §10).

Published file: `{"status": "ok", "symbols": [...], "build_timestamp_utc": "...Z", "counts": {"raw",
"unfiltered", "partial", "final"}}`, written to a temp file in the same directory, fsynced, renamed
over the old one and the directory fsynced (`fileio.atomic_write_bytes`): a crash leaves the old
file or the new one, never a mix. The waiting payload `{"status": "waiting_for_credentials", ...}`
stands in when no provider is enabled and no valid universe exists.

`load_universe` is read-only (readers never start builds) and accepts both shapes: a published
object (`status` "ok" or absent with `symbols` present) and the waiting payload (treated as empty).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from tbot_bot.clock import iso_utc, parse_iso_utc, require_utc
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, atomic_write_bytes, ensure_dir
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import DataError
from tbot_bot.screeners.records import UniverseRecord

logger = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_EMPTY = "universe_empty"
STATUS_INVALID = "universe_invalid"
STATUS_STALE = "universe_stale"
STATUS_WAITING = "waiting_for_credentials"
COUNT_KEYS: tuple[str, ...] = ("raw", "unfiltered", "partial", "final")
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class SessionCalendar(Protocol):
    """The slice of `tbot_bot.market.calendar.TradingCalendar` the universe needs."""

    def is_session(self, d: date) -> bool: ...

    def session_bounds(self, d: date) -> tuple[datetime, datetime]: ...

    def sessions_closed_since(self, instant_utc: datetime, now_utc: datetime) -> int: ...


@dataclass(frozen=True)
class UniverseFiles:
    """The screeners folder of one runtime home."""

    paths: RuntimePaths

    @property
    def published(self) -> Path:
        return self.paths.screener_file("symbol_universe.json")

    @property
    def raw(self) -> Path:
        return self.paths.screener_file("symbol_universe.symbols_raw.json")

    @property
    def unfiltered(self) -> Path:
        return self.paths.screener_file("symbol_universe.unfiltered.json")

    @property
    def partial(self) -> Path:
        return self.paths.screener_file("symbol_universe.partial.json")

    @property
    def failed_marker(self) -> Path:
        return self.paths.screener_file("universe_build.failed")

    @property
    def checkpoint(self) -> Path:
        return self.paths.screener_file("universe_build.checkpoint.ndjson")

    @property
    def ops_log(self) -> Path:
        return self.paths.screener_file("universe_ops.log")

    @property
    def blocklist_ops_log(self) -> Path:
        return self.paths.screener_file("blocklist_ops.log")

    def ensure(self) -> None:
        ensure_dir(self.paths.screeners_dir, OUTPUT_DIR_MODE)


def write_json_atomic(path: Path, document: Any) -> None:
    """One compact JSON document, atomically replaced (mode 0640 like every output file)."""
    ensure_dir(path.parent, OUTPUT_DIR_MODE)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    atomic_write_bytes(path, (text + "\n").encode("utf-8"), OUTPUT_FILE_MODE)


def ops_log(
    files: UniverseFiles,
    now: datetime,
    event: str,
    message: str,
    *,
    level: str = "info",
    **extra: Any,
) -> None:
    """One JSON line in `universe_ops.log` (and the module logger, which feeds alerts)."""
    files.ensure()
    append_json_line(
        files.ops_log,
        {
            "ts_utc": iso_utc(now),
            "level": level,
            "module": "tbot_bot.screeners",
            "event": event,
            "message": message,
            "session": "universe",
            "extra": extra,
        },
    )
    logger.log(_LEVELS.get(level, 20), "%s: %s", event, message)


def waiting_payload(now: datetime) -> dict[str, Any]:
    """The `waiting_for_credentials` document (no provider enabled, no valid universe)."""
    return {
        "status": STATUS_WAITING,
        "counts": dict.fromkeys(COUNT_KEYS, 0),
        "build_timestamp_utc": iso_utc(now),
    }


def check_records(records: Sequence[UniverseRecord]) -> list[str]:
    """Problems that forbid publishing: none at all, duplicates, empty or non-positive fields."""
    if not records:
        return ["zero final symbols"]
    problems: list[str] = []
    seen: set[str] = set()
    for record in records:
        if record.symbol in seen:
            problems.append(f"{record.symbol}: duplicate symbol")
        seen.add(record.symbol)
        if not record.exchange:
            problems.append(f"{record.symbol}: empty exchange")
        if not record.last_close > 0:
            problems.append(f"{record.symbol}: lastClose {record.last_close} is not positive")
        if not record.market_cap > 0:
            problems.append(f"{record.symbol}: marketCap {record.market_cap} is not positive")
    return problems


def universe_document(
    records: Iterable[UniverseRecord], counts: Mapping[str, int], now: datetime
) -> dict[str, Any]:
    return {
        "status": STATUS_OK,
        "symbols": [record.to_json() for record in records],
        "build_timestamp_utc": iso_utc(now),
        "counts": {key: int(counts.get(key, 0)) for key in COUNT_KEYS},
    }


def publish(
    files: UniverseFiles,
    records: Sequence[UniverseRecord],
    counts: Mapping[str, int],
    now: datetime,
) -> None:
    """Validate, stamp and atomically publish; DataError (nothing replaced) when invalid."""
    problems = check_records(records)
    if problems:
        shown = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
        raise DataError(f"refusing to publish the universe: {shown}")
    write_json_atomic(files.published, universe_document(records, counts, now))


def read_records(path: Path) -> list[UniverseRecord]:
    """Records of an unfiltered/partial/published file (DataError when unreadable)."""
    return records_from_document(read_document(path), path)


def records_from_document(document: Any, path: Path) -> list[UniverseRecord]:
    """Parse the `symbols` list of a universe document; DataError naming file and position."""
    symbols = document.get("symbols") if isinstance(document, dict) else None
    if not isinstance(symbols, list):
        raise DataError(f"{path}: expected an object with a 'symbols' list")
    return [
        UniverseRecord.from_json(item, f"{path} symbol {index}")
        for index, item in enumerate(symbols, start=1)
    ]


def read_document(path: Path) -> Any:
    """Parse a JSON file (numbers with a fraction as Decimal); DataError when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


@dataclass(frozen=True)
class UniverseLoad:
    """What a phase start gets: `status` ok | universe_empty | universe_invalid | universe_stale.

    Only `ok` lets a phase run; the other statuses skip it with that reason.
    """

    status: str
    symbols: tuple[UniverseRecord, ...] = ()
    build_timestamp_utc: datetime | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""
    sessions_since_build: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def tickers(self) -> tuple[str, ...]:
        return tuple(record.symbol for record in self.symbols)


def load_universe(
    paths: RuntimePaths,
    calendar: SessionCalendar,
    now: datetime,
    max_age_sessions: int,
) -> UniverseLoad:
    """Read the published universe; never builds, never writes (trading spec §10)."""
    now = require_utc(now, "now")
    path = UniverseFiles(paths).published
    try:
        document = read_document(path)
    except FileNotFoundError:
        return UniverseLoad(STATUS_EMPTY, reason=f"{path.name} does not exist yet")
    except DataError as exc:
        return _invalid(str(exc))
    if not isinstance(document, dict):
        return _invalid(f"{path}: expected a JSON object")
    status = document.get("status")
    counts = _counts(document.get("counts"))
    if status == STATUS_WAITING:
        return UniverseLoad(STATUS_EMPTY, counts=counts, reason=STATUS_WAITING)
    if status not in (None, STATUS_OK):
        return _invalid(f"{path}: unknown status {status!r}")
    try:
        stamp = parse_iso_utc(str(document["build_timestamp_utc"]))
    except (KeyError, ValueError):
        return _invalid(f"{path}: build_timestamp_utc is missing or not an ISO-8601 UTC time")
    try:
        records = records_from_document(document, path)
    except DataError as exc:
        return _invalid(str(exc))
    duplicates = len(records) - len({record.symbol for record in records})
    if duplicates:
        return _invalid(f"{path}: {duplicates} duplicate symbol(s)")
    if not records:
        return UniverseLoad(STATUS_EMPTY, (), stamp, counts, "no symbols")
    age = calendar.sessions_closed_since(stamp, now)
    if age > max_age_sessions:
        reason = f"{age} XNYS sessions closed since the build (limit {max_age_sessions})"
        return UniverseLoad(STATUS_STALE, tuple(records), stamp, counts, reason, age)
    return UniverseLoad(STATUS_OK, tuple(records), stamp, counts, "", age)


def _invalid(reason: str) -> UniverseLoad:
    logger.error("universe_invalid: %s", reason)
    return UniverseLoad(STATUS_INVALID, reason=reason)


def _counts(raw: object) -> dict[str, int]:
    if not isinstance(raw, dict):
        return {}
    return {key: value for key, value in raw.items() if isinstance(value, int)}
