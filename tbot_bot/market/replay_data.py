"""Replay data sets: the only input of SIM, the demo and backtests (trading spec §14).

A data set is a folder with `manifest.json`, `bars_1m/<SYMBOL>.csv|.parquet`, `daily/<SYMBOL>...`,
`vix.csv` and `reference.csv`. `load_data_set` reads and checks the manifest at once; bars, daily
bars, VIX and reference rows are read lazily on first use, validated (see `bar_files`) and cached;
bars files also go through the on-disk binary cache of `bars_cache` (`TBOT_BARS_CACHE=0` disables).

A missing optional file (daily bars of a symbol, `vix.csv`, `reference.csv`) gives an empty result:
that gate input is then unavailable and `RISK_FAIL_MODE` decides (§14). A missing bars file of a
symbol the manifest lists is an error, because the replay cannot run without it.
"""

from __future__ import annotations

import bisect
import csv
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tbot_bot.clock import require_utc
from tbot_bot.config.path_resolver import ReplaySetFiles, safe_component
from tbot_bot.errors import DataError, PathError
from tbot_bot.market.bar_files import (
    BarValidationError,
    ParseCache,
    gc_paused,
    read_bars_file,
    read_daily_file,
    read_vix_file,
)
from tbot_bot.market.bars import Bar, DailyBar
from tbot_bot.market.bars_cache import load_bars

__all__ = [
    "REFERENCE_COLUMNS",
    "BarValidationError",
    "DataSetManifest",
    "ReplayDataSet",
    "load_data_set",
    "read_bars_file",
]

EXCHANGE_TZ = ZoneInfo("America/New_York")
MANIFEST_KEYS: tuple[str, ...] = ("name", "source", "synthetic", "seed", "sessions", "symbols")
# LOCAL_FILE columns required of a reference/universe file (trading spec §10).
REFERENCE_COLUMNS: tuple[str, ...] = ("symbol", "exchange", "type", "lastClose", "marketCap")
_EXTENSIONS: tuple[str, ...] = ("csv", "parquet")


@dataclass(frozen=True)
class DataSetManifest:
    """The parsed `manifest.json`; `extra` keeps every other key (notes, synthetic parts, stats)."""

    name: str
    source: str
    synthetic: bool
    seed: int | None
    sessions: tuple[date, ...]
    symbols: tuple[str, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)


def _manifest_error(path: Path, key: str, expectation: str, value: object) -> DataError:
    return DataError(f"{path}: key {key!r} {expectation} (found {value!r})")


def parse_manifest(path: Path) -> DataSetManifest:
    """Read and check a data set's `manifest.json`; every problem names the file and key."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{path} is missing: a replay data set needs a manifest.json (trading spec §14); "
            "run `python -m tbot_bot.market.data_fetch` to build the shipped sets"
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise DataError(f"{path}: expected a JSON object, found {type(payload).__name__}")
    missing = [key for key in MANIFEST_KEYS if key not in payload]
    if missing:
        raise DataError(f"{path}: missing key(s) {', '.join(missing)}")
    name, source, synthetic, seed = (payload[k] for k in ("name", "source", "synthetic", "seed"))
    if not isinstance(name, str) or not name:
        raise _manifest_error(path, "name", "must be a non-empty string", name)
    if not isinstance(source, str):
        raise _manifest_error(path, "source", "must be a string", source)
    if not isinstance(synthetic, bool):
        raise _manifest_error(path, "synthetic", "must be true or false", synthetic)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise _manifest_error(path, "seed", "must be an integer or null", seed)
    return DataSetManifest(
        name=name,
        source=source,
        synthetic=synthetic,
        seed=seed,
        sessions=_parse_sessions(path, payload["sessions"]),
        symbols=_parse_symbols(path, payload["symbols"]),
        extra={k: v for k, v in payload.items() if k not in MANIFEST_KEYS},
    )


def _parse_sessions(path: Path, raw: object) -> tuple[date, ...]:
    if not isinstance(raw, list) or not raw:
        raise _manifest_error(path, "sessions", "must be a non-empty list of YYYY-MM-DD", raw)
    try:
        sessions = tuple(date.fromisoformat(str(item)) for item in raw)
    except ValueError as exc:
        raise _manifest_error(path, "sessions", f"holds a bad date ({exc})", raw) from exc
    if list(sessions) != sorted(set(sessions)):
        raise _manifest_error(path, "sessions", "must be sorted and unique", raw)
    return sessions


def _parse_symbols(path: Path, raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
        raise _manifest_error(path, "symbols", "must be a non-empty list of strings", raw)
    if len(set(raw)) != len(raw):
        raise _manifest_error(path, "symbols", "must be unique", raw)
    try:
        return tuple(safe_component(symbol, "symbol") for symbol in raw)
    except PathError as exc:
        raise _manifest_error(path, "symbols", f"holds an unsafe name ({exc})", raw) from exc


def session_bounds_utc(session: date) -> tuple[datetime, datetime]:
    """The UTC instants of the exchange date's midnight and the next one (DST aware)."""
    start = datetime.combine(session, time(0), EXCHANGE_TZ)
    end = datetime.combine(session + timedelta(days=1), time(0), EXCHANGE_TZ)
    return start.astimezone(UTC), end.astimezone(UTC)


class ReplayDataSet:
    """One loaded data set. Reads are lazy, validated once and cached; safe to share by threads."""

    def __init__(self, root: Path, manifest: DataSetManifest) -> None:
        self.root = root
        self.files = ReplaySetFiles(root)
        self.manifest = manifest
        self._cache = ParseCache()
        self._lock = threading.Lock()
        self._bars: dict[str, tuple[Bar, ...]] = {}
        self._starts: dict[str, list[datetime]] = {}
        self._daily: dict[str, tuple[DailyBar, ...]] = {}
        self._vix: tuple[tuple[datetime, Decimal], ...] | None = None
        self._reference: list[dict[str, str]] | None = None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def synthetic(self) -> bool:
        return self.manifest.synthetic

    @property
    def symbols(self) -> list[str]:
        return list(self.manifest.symbols)

    @property
    def sessions(self) -> list[date]:
        return list(self.manifest.sessions)

    # -- bars ------------------------------------------------------------------------------------
    def _require_symbol(self, symbol: str) -> None:
        if symbol not in self.manifest.symbols:
            raise DataError(
                f"symbol {symbol!r} is not in data set {self.name!r} ({self.files.manifest_file})"
            )

    def _find(self, directory_file: Any, symbol: str) -> Path | None:
        for extension in _EXTENSIONS:
            candidate: Path = directory_file(symbol, extension)
            if candidate.is_file():
                return candidate
        return None

    def bars_file(self, symbol: str) -> Path:
        """The bars file of a listed symbol (CSV preferred over Parquet)."""
        self._require_symbol(symbol)
        found = self._find(self.files.bars_file, symbol)
        if found is None:
            raise DataError(
                f"data set {self.name!r}: no bars file for {symbol} "
                f"(expected {self.files.bars_file(symbol)} or .parquet)"
            )
        return found

    def bars(self, symbol: str) -> Sequence[Bar]:
        """All validated 1-minute bars of `symbol`, sorted by `ts_utc`."""
        cached = self._bars.get(symbol)
        if cached is not None:
            return cached
        path = self.bars_file(symbol)
        with self._lock, gc_paused:
            cached = self._bars.get(symbol)
            if cached is None:
                cached = tuple(load_bars(path, symbol, cache=self._cache))
                self._bars[symbol] = cached
                self._starts[symbol] = [bar.ts_utc for bar in cached]
        return cached

    def bars_for_session(self, symbol: str, session: date) -> Sequence[Bar]:
        """The bars of one exchange date (empty if the symbol has none that day)."""
        bars = self.bars(symbol)
        starts = self._starts[symbol]
        start, end = session_bounds_utc(session)
        return bars[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]

    def load_all(self) -> int:
        """Load every symbol's bars (benchmarks, warm-up); returns the number of bars."""
        with gc_paused:  # one pause for the whole load, not one per file
            return sum(len(self.bars(symbol)) for symbol in self.manifest.symbols)

    def evict(self, symbol: str) -> None:
        """Forget one symbol's cached bars (long backtests over many symbols)."""
        with self._lock:
            self._bars.pop(symbol, None)
            self._starts.pop(symbol, None)

    # -- daily bars, VIX, reference --------------------------------------------------------------
    def daily(self, symbol: str) -> Sequence[DailyBar]:
        """Validated daily bars of `symbol`; empty when the set has no daily file for it."""
        self._require_symbol(symbol)
        cached = self._daily.get(symbol)
        if cached is not None:
            return cached
        path = self._find(self.files.daily_file, symbol)
        loaded = tuple(read_daily_file(path, symbol, cache=self._cache)) if path else ()
        with self._lock:
            self._daily.setdefault(symbol, loaded)
        return self._daily[symbol]

    def daily_before(
        self, symbol: str, session: date, count: int | None = None
    ) -> Sequence[DailyBar]:
        """Daily bars strictly before `session` (no look-ahead), the last `count` of them."""
        rows = self.daily(symbol)
        cut = bisect.bisect_left([row.date for row in rows], session.isoformat())
        first = 0 if count is None else max(0, cut - count)
        return rows[first:cut]

    def vix(self) -> Sequence[tuple[datetime, Decimal]]:
        """The VIX series `(ts_utc, value)`; empty when the set has no `vix.csv`."""
        if self._vix is None:
            path = self.files.vix_file
            loaded = tuple(read_vix_file(path, cache=self._cache)) if path.is_file() else ()
            with self._lock:
                self._vix = loaded
        return self._vix

    def vix_at(self, now: datetime) -> Decimal | None:
        """The latest VIX value with `ts_utc <= now` (None before the first row or without VIX)."""
        series = self.vix()
        index = bisect.bisect_right(series, require_utc(now, "now"), key=lambda row: row[0])
        return series[index - 1][1] if index else None

    def reference(self) -> list[dict[str, str]]:
        """Rows of `reference.csv` (LOCAL_FILE columns, trading spec §10); empty when absent."""
        if self._reference is None:
            path = self.files.reference_file
            rows = read_reference_file(path) if path.is_file() else []
            with self._lock:
                self._reference = rows
        return [dict(row) for row in self._reference]


def read_reference_file(path: Path) -> list[dict[str, str]]:
    """A LOCAL_FILE CSV: required columns present, one row per unique symbol."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in (reader.fieldnames or [])]
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read reference CSV: {exc}") from exc
    missing = [name for name in REFERENCE_COLUMNS if name not in header]
    if missing:
        raise BarValidationError(
            path, 0, "missing_column", f"missing column(s) {', '.join(missing)} (trading spec §10)"
        )
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        symbol = row["symbol"]
        if not symbol:
            raise BarValidationError(path, number, "bad_value", "empty symbol")
        if symbol in seen:
            raise BarValidationError(path, number, "duplicate_symbol", f"symbol {symbol} repeats")
        seen.add(symbol)
    return rows


def load_data_set(path: Path) -> ReplayDataSet:
    """Open the data set at `path`: check its manifest and that every listed symbol has bars."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise DataError(
            f"replay data set {root} does not exist; build the shipped sets with "
            "`python -m tbot_bot.market.data_fetch` or point SIM_DATA_SET at a bars folder"
        )
    data_set = ReplayDataSet(root, parse_manifest(ReplaySetFiles(root).manifest_file))
    missing = [
        symbol
        for symbol in data_set.manifest.symbols
        if data_set._find(data_set.files.bars_file, symbol) is None
    ]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise DataError(
            f"data set {data_set.name!r} at {root}: no bars_1m file for {len(missing)} "
            f"listed symbol(s): {shown}"
        )
    return data_set
