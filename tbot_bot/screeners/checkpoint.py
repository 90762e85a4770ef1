"""The per-date checkpoint of a universe build (trading spec §10: builds are resumable).

`universe_build.checkpoint.ndjson` holds one JSON object per line: a header `{"kind": "header",
"trading_date", "raw_count", "providers", "started_utc"}`, then one line per enriched symbol
(`{"kind": "record", "record": {...}}`) or blocklisted symbol (`{"kind": "blocked", "symbol",
"reason"}`). Lines are appended one batch per `write()` and fsynced, so a crash loses at most
the batch in flight and can tear only the last line, which the reader ignores. A checkpoint of
another trading date, another provider list or a different raw list is discarded and the build
starts over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_bot.clock import iso_utc
from tbot_bot.config.fileio import OUTPUT_FILE_MODE, atomic_write_text
from tbot_bot.errors import DataError
from tbot_bot.screeners.records import UniverseRecord

logger = logging.getLogger(__name__)


@dataclass
class Checkpoint:
    """Progress of one build date: enriched records and blocklisted symbols so far."""

    path: Path
    trading_date: date
    raw_count: int
    records: dict[str, UniverseRecord] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> set[str]:
        """Symbols that need no further provider call this date."""
        return set(self.records) | set(self.blocked)

    @classmethod
    def start(
        cls,
        path: Path,
        trading_date: date,
        raw_count: int,
        now: datetime,
        providers: Sequence[str],
    ) -> Checkpoint:
        """A fresh checkpoint: the header replaces any older file atomically."""
        header = {
            "kind": "header",
            "trading_date": trading_date.isoformat(),
            "raw_count": raw_count,
            "providers": list(providers),
            "started_utc": iso_utc(now),
        }
        atomic_write_text(path, json.dumps(header) + "\n", OUTPUT_FILE_MODE)
        return cls(path, trading_date, raw_count)

    @classmethod
    def resume(cls, path: Path, trading_date: date, providers: Sequence[str]) -> Checkpoint | None:
        """The checkpoint of `trading_date` and the same providers (in order), or None when
        absent, of another date or provider set, or unreadable."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning("ignoring unreadable checkpoint %s: %s", path, exc)
            return None
        try:
            entries = _parse_lines(lines, path)
            if not entries or entries[0].get("kind") != "header":
                return None
            header = entries[0]
            if header.get("trading_date") != trading_date.isoformat():
                return None
            if header.get("providers") != list(providers):
                return None
            checkpoint = cls(path, trading_date, int(header.get("raw_count", -1)))
            for number, entry in enumerate(entries[1:], start=2):
                checkpoint._absorb(entry, f"{path} entry {number}")
        except (DataError, ValueError, TypeError) as exc:
            # A damaged checkpoint only costs the work it saved: start the date over.
            logger.warning("discarding damaged checkpoint %s: %s", path, exc)
            return None
        return checkpoint

    def append(self, entries: Iterable[dict[str, Any]]) -> None:
        """Append lines in one write, fsync, and absorb them."""
        batch = list(entries)
        if not batch:
            return
        payload = "".join(json.dumps(entry) + "\n" for entry in batch).encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, OUTPUT_FILE_MODE)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        for entry in batch:
            self._absorb(entry, str(self.path))

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _absorb(self, entry: dict[str, Any], where: str) -> None:
        kind = entry.get("kind")
        if kind == "record":
            record = UniverseRecord.from_json(entry.get("record") or {}, where)
            self.records[record.symbol] = record
        elif kind == "blocked":
            self.blocked[str(entry.get("symbol"))] = str(entry.get("reason"))
        else:
            raise DataError(f"{where}: unknown checkpoint line kind {kind!r}")


def record_line(record: UniverseRecord) -> dict[str, Any]:
    return {"kind": "record", "record": record.to_json()}


def blocked_line(symbol: str, reason: str) -> dict[str, Any]:
    return {"kind": "blocked", "symbol": symbol, "reason": reason}


def _parse_lines(lines: list[str], path: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError:
            if number == len(lines):
                logger.info("checkpoint %s: ignoring a torn last line", path)
                break
            raise DataError(f"{path} line {number}: not valid JSON") from None
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
