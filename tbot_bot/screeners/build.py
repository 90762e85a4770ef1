"""The universe build: raw -> unfiltered -> partial -> published (trading spec §10).

Stage 1 (raw, `symbol_universe.symbols_raw.json`, NDJSON): the symbols of every provider enabled
for the universe; the first provider in priority order that lists a symbol owns it.
Stage 2 (enrich, `symbol_universe.unfiltered.json`): skip blocklisted symbols, disallowed
exchanges, preferred/warrant/right/unit symbols and assets the source marks untradable; fetch quote
and USD cap; missing or invalid data puts the symbol on the blocklist.
Stage 3 (filter, `symbol_universe.partial.json`): `filters.filter_universe`, pure.
Stage 4 (publish, `symbol_universe.json`): validate, stamp, atomic publish.

A build is refused while the market is open (calendar + injected clock) and while another build
holds the `universe_build` lock. Any failure keeps the last good published file, writes the
`universe_build.failed` marker (why, at which stage) and logs an error (the alert). Progress of
stage 2 is checkpointed per trading date, so a rerun the same date resumes where it stopped.
`refilter()` redoes stages 3-4 from the unfiltered file: no provider call, blocklist read only.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tbot_bot.clock import Clock, iso_utc
from tbot_bot.config import locks
from tbot_bot.config.fileio import OUTPUT_FILE_MODE, atomic_write_text
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError, DataError, TbotError
from tbot_bot.market.calendar import trading_date_of
from tbot_bot.screeners import blocklist
from tbot_bot.screeners.checkpoint import Checkpoint, blocked_line, record_line
from tbot_bot.screeners.filters import UniverseCriteria, filter_universe, prefilter_reason
from tbot_bot.screeners.providers.base import PROBLEM_NOT_FOUND, UniverseProvider
from tbot_bot.screeners.records import (
    Enrichment,
    RawSymbol,
    UniverseRecord,
    merge_record,
)
from tbot_bot.screeners.store import (
    STATUS_OK,
    STATUS_STALE,
    STATUS_WAITING,
    SessionCalendar,
    UniverseFiles,
    load_universe,
    ops_log,
    publish,
    read_document,
    records_from_document,
    waiting_payload,
    write_json_atomic,
)

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)

RESULT_PUBLISHED = "published"
RESULT_REFUSED = "refused"
RESULT_FAILED = "failed"
RESULT_WAITING = STATUS_WAITING
CHUNK_SIZE = 25


@dataclass(frozen=True)
class BuildResult:
    """Outcome of one build request."""

    status: str
    reason: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    blocklisted: int = 0
    resumed: bool = False


def market_hours_refusal(calendar: SessionCalendar, now: datetime) -> str | None:
    """Why a build must not run now (the regular session is open), or None."""
    day = trading_date_of(now)
    if not calendar.is_session(day):
        return None
    open_utc, close_utc = calendar.session_bounds(day)
    if open_utc <= now < close_utc:
        span = f"{iso_utc(open_utc)} .. {iso_utc(close_utc)}"
        return f"market is open ({span}); build after the close"
    return None


@dataclass
class UniverseBuilder:
    """One build request over injected providers, calendar and clock."""

    paths: RuntimePaths
    settings: Any
    calendar: SessionCalendar
    clock: Clock
    providers: Sequence[UniverseProvider]
    unavailable: Sequence[str] = ()
    progress: ProgressFn | None = None
    chunk_size: int = CHUNK_SIZE
    _stage: str = "start"

    @property
    def files(self) -> UniverseFiles:
        return UniverseFiles(self.paths)

    # -- entry points ----------------------------------------------------------------------------
    def build(self) -> BuildResult:
        """Full build (stages 1-4), resuming today's checkpoint when there is one."""
        return self._guarded("build", self._full_build)

    def refilter(self) -> BuildResult:
        """Stages 3-4 from the unfiltered file only."""
        return self._guarded("refilter", self._refilter)

    def _guarded(self, kind: str, body: Callable[[datetime], BuildResult]) -> BuildResult:
        now = self.clock.now_utc()
        self.files.ensure()
        refusal = market_hours_refusal(self.calendar, now)
        if refusal:
            ops_log(self.files, now, "universe_build_refused", refusal, level="error", kind=kind)
            return BuildResult(RESULT_REFUSED, refusal)
        lock = self.paths.lock_file("universe_build")
        try:
            locks.acquire(lock)
        except ConfigError as exc:
            ops_log(self.files, now, "universe_build_refused", str(exc), level="warning")
            return BuildResult(RESULT_REFUSED, "another universe build is running")
        try:
            ops_log(self.files, now, "universe_build_started", f"{kind} started", kind=kind)
            return body(now)
        except (TbotError, OSError) as exc:
            return self._fail(now, exc)
        except Exception as exc:  # a bug still leaves the marker, then propagates
            self._fail(now, exc)
            raise
        finally:
            locks.release(lock)

    # -- stages ----------------------------------------------------------------------------------
    def _full_build(self, now: datetime) -> BuildResult:
        if not self.providers:
            if self.unavailable:
                raise ConfigError("no usable universe provider: " + "; ".join(self.unavailable))
            return self._waiting(now)
        day = trading_date_of(now)
        names = [provider.name for provider in self.providers]
        checkpoint = Checkpoint.resume(self.files.checkpoint, day, names)
        raw = self._read_raw() if checkpoint is not None else None
        if checkpoint is not None and raw is not None and checkpoint.raw_count == len(raw):
            resumed = True
            ops_log(self.files, now, "universe_build_resumed", f"{len(checkpoint.done)} done")
        else:
            resumed = False
            raw = self._stage_raw()
            checkpoint = Checkpoint.start(self.files.checkpoint, day, len(raw), now, names)
        skipped, blocked = self._stage_enrich(raw, checkpoint, now)
        records = sorted(checkpoint.records.values(), key=lambda record: record.symbol)
        counts = {"raw": len(raw), "unfiltered": len(records)}
        self._stage = "unfiltered"
        write_json_atomic(self.files.unfiltered, _stage_document(records, counts, now, skipped))
        result = self._filter_and_publish(records, counts, now)
        checkpoint.remove()
        return BuildResult(
            status=result.status,
            counts=result.counts,
            skipped=skipped,
            rejected=result.rejected,
            blocklisted=blocked,
            resumed=resumed,
        )

    def _refilter(self, now: datetime) -> BuildResult:
        self._stage = "refilter"
        if not self.files.unfiltered.exists():
            raise DataError(f"{self.files.unfiltered} does not exist: run a full build first")
        document = read_document(self.files.unfiltered)
        blocked = blocklist.read_blocklist(self._blocklist_path())
        records = [
            record
            for record in records_from_document(document, self.files.unfiltered)
            if record.symbol not in blocked
        ]
        raw_count = int((document.get("counts") or {}).get("raw", len(records)))
        counts = {"raw": raw_count, "unfiltered": len(records)}
        return self._filter_and_publish(records, counts, now)

    def _filter_and_publish(
        self, records: list[UniverseRecord], counts: dict[str, int], now: datetime
    ) -> BuildResult:
        self._stage = "filter"
        outcome = filter_universe(records, UniverseCriteria.from_settings(self.settings))
        counts = {**counts, "partial": len(outcome.records)}
        write_json_atomic(
            self.files.partial,
            _stage_document(outcome.records, counts, now, None, dict(outcome.rejected)),
        )
        self._stage = "publish"
        counts["final"] = len(outcome.records)
        publish(self.files, outcome.records, counts, now)
        with contextlib.suppress(FileNotFoundError):
            self.files.failed_marker.unlink()
        ops_log(
            self.files,
            now,
            "universe_published",
            f"published {counts['final']} symbols",
            counts=counts,
            rejected=dict(outcome.rejected),
        )
        return BuildResult(RESULT_PUBLISHED, "", counts, rejected=dict(outcome.rejected))

    def _stage_raw(self) -> list[RawSymbol]:
        """Stage 1: union of the providers' lists, first provider wins a symbol."""
        self._stage = "raw"
        owned: dict[str, RawSymbol] = {}
        for provider in self.providers:
            for raw in provider.fetch_symbols():
                owned.setdefault(raw.symbol, raw)
        raw_list = sorted(owned.values(), key=lambda raw: raw.symbol)
        text = "".join(json.dumps(raw.to_json()) + "\n" for raw in raw_list)
        atomic_write_text(self.files.raw, text, OUTPUT_FILE_MODE)
        self._report("raw", len(raw_list), len(raw_list))
        return raw_list

    def _read_raw(self) -> list[RawSymbol] | None:
        try:
            lines = self.files.raw.read_text(encoding="utf-8").splitlines()
            return [RawSymbol.from_json(json.loads(line)) for line in lines if line.strip()]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _stage_enrich(
        self, raw: list[RawSymbol], checkpoint: Checkpoint, now: datetime
    ) -> tuple[dict[str, int], int]:
        """Stage 2: pre-filter, then enrich in checkpointed chunks; returns (skipped, blocked)."""
        self._stage = "enrich"
        criteria = UniverseCriteria.from_settings(self.settings)
        blocked = blocklist.read_blocklist(self._blocklist_path())
        done = checkpoint.done
        skipped: Counter[str] = Counter()
        todo: list[RawSymbol] = []
        for item in raw:
            if item.symbol in done:
                continue
            reason = prefilter_reason(item, criteria, blocked)
            if reason is not None:
                skipped[reason] += 1
            else:
                todo.append(item)
        by_name = {provider.name: provider for provider in self.providers}
        order = {name: index for index, name in enumerate(by_name)}
        todo.sort(key=lambda item: (order[item.provider], item.symbol))  # one run per provider
        total, added = len(todo), 0
        for index, chunk in enumerate(_chunks(todo, self.chunk_size)):
            added += self._enrich_chunk(by_name[chunk[0].provider], chunk, checkpoint, now)
            self._report("enrich", min(total, (index + 1) * self.chunk_size), total)
        self._report("enrich", total, total)
        return dict(skipped), added

    def _enrich_chunk(
        self,
        provider: UniverseProvider,
        chunk: list[RawSymbol],
        checkpoint: Checkpoint,
        now: datetime,
    ) -> int:
        enriched = provider.fetch_quotes([item.symbol for item in chunk])
        lines: list[dict[str, Any]] = []
        entries: list[blocklist.BlocklistEntry] = []
        for item in chunk:
            data = enriched.get(item.symbol) or Enrichment(item.symbol, problem=PROBLEM_NOT_FOUND)
            record, problem = merge_record(item, data)
            if record is not None:
                lines.append(record_line(record))
                continue
            reason = problem or PROBLEM_NOT_FOUND
            entries.append(blocklist.make_entry(item.symbol, reason, now, provider.name))
            lines.append(blocked_line(item.symbol, reason))
        # Blocklist first: if we crash before the checkpoint line, the rerun skips the symbol.
        blocklist.append_entries(
            self._blocklist_path(),
            entries,
            ops_log=self.files.blocklist_ops_log,
            now_utc=self.clock.now_utc,
        )
        checkpoint.append(lines)
        return len(entries)

    # -- outcomes ---------------------------------------------------------------------------------
    def _waiting(self, now: datetime) -> BuildResult:
        current = load_universe(self.paths, self.calendar, now, 10**6)
        if current.status in {STATUS_OK, STATUS_STALE}:
            message = "no provider enabled; keeping the last good universe"
        else:
            write_json_atomic(self.files.published, waiting_payload(now))
            message = "no provider enabled; published the waiting_for_credentials payload"
        ops_log(self.files, now, STATUS_WAITING, message, level="warning")
        return BuildResult(RESULT_WAITING, message)

    def _fail(self, now: datetime, exc: BaseException) -> BuildResult:
        reason = f"{type(exc).__name__}: {exc}"
        marker = {
            "failed_utc": iso_utc(now),
            "stage": self._stage,
            "error_type": type(exc).__name__,
            "reason": str(exc),
        }
        with contextlib.suppress(OSError):
            write_json_atomic(self.files.failed_marker, marker)
        ops_log(
            self.files,
            now,
            "universe_build_failed",
            f"build failed at stage {self._stage}; last good universe kept: {reason}",
            level="error",
            stage=self._stage,
        )
        return BuildResult(RESULT_FAILED, reason)

    # -- helpers ---------------------------------------------------------------------------------
    def _blocklist_path(self) -> Any:
        return self.paths.under_bot_root(self.settings.SCREENER_UNIVERSE_BLOCKLIST_PATH)

    def _report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


def _chunks(items: list[RawSymbol], size: int) -> Iterator[list[RawSymbol]]:
    """Consecutive runs of at most `size` symbols of one provider each."""
    chunk: list[RawSymbol] = []
    for item in items:
        if chunk and (len(chunk) >= size or item.provider != chunk[0].provider):
            yield chunk
            chunk = []
        chunk.append(item)
    if chunk:
        yield chunk


def _stage_document(
    records: Sequence[UniverseRecord],
    counts: dict[str, int],
    now: datetime,
    skipped: dict[str, int] | None = None,
    rejected: dict[str, int] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {"build_timestamp_utc": iso_utc(now), "counts": dict(counts)}
    if skipped is not None:
        document["skipped"] = skipped
    if rejected is not None:
        document["rejected"] = rejected
    document["symbols"] = [record.to_json() for record in records]
    return document
