"""The universe blocklist, `SCREENER_UNIVERSE_BLOCKLIST_PATH` (trading spec §10): its only reader
and writer.

One line per event: `SYMBOL|reason|ts_utc|provider|source` with source `automated`, `manual` or
`recovery`; `#` starts a comment; blank lines are ignored; the latest line of a symbol wins. Only
the universe build adds lines (symbols with missing or invalid data); in v1 an admin may append a
`manual` line by hand. Every addition is also a JSON line in `blocklist_ops.log`. This list is
distinct from the per-day ticker blocklist of the risk gate (check 2).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tbot_bot.clock import iso_utc, parse_iso_utc, require_utc
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, ensure_dir
from tbot_bot.errors import DataError
from tbot_bot.screeners.records import valid_symbol

SOURCES: tuple[str, ...] = ("automated", "manual", "recovery")
_FIELD_TEXT = re.compile(r"[^A-Za-z0-9_.:\- ]")


@dataclass(frozen=True, slots=True)
class BlocklistEntry:
    """One blocklist line."""

    symbol: str
    reason: str
    ts_utc: datetime
    provider: str
    source: str = "automated"

    def to_line(self) -> str:
        return "|".join(
            (self.symbol, self.reason, iso_utc(self.ts_utc), self.provider, self.source)
        )


def clean_field(text: str) -> str:
    """A free-text field safe for the pipe format (no `|`, `#` or line breaks)."""
    return _FIELD_TEXT.sub("_", text.strip())[:80] or "-"


def make_entry(
    symbol: str, reason: str, ts_utc: datetime, provider: str, source: str = "automated"
) -> BlocklistEntry:
    """A checked entry: valid ticker, known source, aware UTC time, pipe-safe texts."""
    folded = symbol.strip().upper()
    if not valid_symbol(folded):
        raise DataError(f"blocklist: {symbol!r} is not a valid ticker")
    if source not in SOURCES:
        raise DataError(f"blocklist: source {source!r} must be one of {', '.join(SOURCES)}")
    return BlocklistEntry(
        folded, clean_field(reason), require_utc(ts_utc), clean_field(provider), source
    )


def parse_line(line: str, path: Path, number: int) -> BlocklistEntry | None:
    """One line -> entry; None for comments and blank lines; DataError naming file and line."""
    content = line.split("#", 1)[0].strip()
    if not content:
        return None
    parts = [part.strip() for part in content.split("|")]
    if len(parts) != 5:
        raise DataError(
            f"{path}:{number}: expected SYMBOL|reason|ts_utc|provider|source, got {content!r}"
        )
    symbol, reason, stamp, provider, source = parts
    try:
        when = parse_iso_utc(stamp)
    except ValueError:
        raise DataError(
            f"{path}:{number}: ts_utc {stamp!r} is not an ISO-8601 UTC time (e.g. "
            "2025-07-15T22:00:00.000Z)"
        ) from None
    try:
        return make_entry(symbol, reason, when, provider, source)
    except DataError as exc:
        raise DataError(f"{path}:{number}: {exc}") from None


def read_blocklist(path: Path) -> dict[str, BlocklistEntry]:
    """Effective entries by symbol (latest line wins); a missing file is an empty list."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read blocklist: {exc}") from exc
    entries: dict[str, BlocklistEntry] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        entry = parse_line(line, path, number)
        if entry is not None:
            entries[entry.symbol] = entry
    return entries


def append_entries(
    path: Path,
    entries: Iterable[BlocklistEntry],
    *,
    ops_log: Path,
    now_utc: Callable[[], datetime],
) -> int:
    """Append entries in one write (concurrent appenders never interleave) and log each one."""
    batch = list(entries)
    if not batch:
        return 0
    ensure_dir(path.parent, OUTPUT_DIR_MODE)
    payload = "".join(entry.to_line() + "\n" for entry in batch).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, OUTPUT_FILE_MODE)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    ensure_dir(ops_log.parent, OUTPUT_DIR_MODE)
    stamp = iso_utc(now_utc())
    for entry in batch:
        append_json_line(
            ops_log,
            {
                "ts_utc": stamp,
                "level": "info",
                "module": __name__,
                "event": "blocklist_added",
                "message": f"{entry.symbol} blocklisted: {entry.reason}",
                "extra": {
                    "symbol": entry.symbol,
                    "reason": entry.reason,
                    "provider": entry.provider,
                    "source": entry.source,
                },
            },
        )
    return len(batch)
