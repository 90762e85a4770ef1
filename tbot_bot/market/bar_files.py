"""Readers and validators of replay bar files: 1-minute bars, daily bars, VIX (trading spec §14).

A file is CSV with a header or Parquet with the same columns. Every rule of §14 is checked row by
row and the first violation raises `BarValidationError` (a `DataError`) naming the file, the 1-based
data row and the rule, so a user can fix a bad bars folder from the message alone.

Speed matters (the backtester replays 500 symbols x 20 sessions): prices repeat a lot, so each
distinct price string becomes a Decimal once through a `ParseCache`, and each distinct timestamp is
parsed once (the same minute appears in every symbol's file). Floats only appear when a user's
Parquet file stores them; they are converted through their shortest repr, never arithmetically.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import operator
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tbot_bot.errors import DataError
from tbot_bot.market.bars import Bar, DailyBar

BAR_COLUMNS: tuple[str, ...] = ("ts_utc", "open", "high", "low", "close", "volume")
DAILY_COLUMNS: tuple[str, ...] = ("date", "open", "high", "low", "close", "volume")
VIX_COLUMNS: tuple[str, ...] = ("ts_utc", "value")

# Rule names used in messages and on BarValidationError.rule (tests match them one by one).
RULE_MISSING_COLUMN = "missing_column"
RULE_BAD_VALUE = "bad_value"
RULE_UNSORTED = "unsorted_ts"
RULE_DUPLICATE = "duplicate_ts"
RULE_UNSORTED_DATE = "unsorted_date"
RULE_DUPLICATE_DATE = "duplicate_date"
RULE_HIGH_BELOW_LOW = "high_below_low"
RULE_OPEN_OUTSIDE = "open_outside_range"
RULE_CLOSE_OUTSIDE = "close_outside_range"
RULE_NEGATIVE_VOLUME = "negative_volume"
RULE_NON_POSITIVE_PRICE = "non_positive_price"
RULE_UNREADABLE = "unreadable_file"

_ZERO = Decimal(0)


class BarValidationError(DataError):
    """A replay file broke a rule of trading spec §14; `row` is 1-based (0 = header/file)."""

    def __init__(self, path: Path, row: int, rule: str, detail: str) -> None:
        self.path = path
        self.row = row
        self.rule = rule
        where = f"row {row}" if row > 0 else "header"
        super().__init__(f"{path}: {where}: {rule}: {detail}")


@dataclass
class ParseCache:
    """Distinct strings parsed once; one per data set, so all symbols share the same objects."""

    decimals: dict[str, Decimal] = field(default_factory=dict)
    stamps: dict[str, datetime] = field(default_factory=dict)
    epochs: dict[int, datetime] = field(default_factory=dict)  # epoch µs -> stamp (bars_cache)


@dataclass(frozen=True)
class BarColumns:
    """The validated columns of one bars file (`vwaps` is None when the file has no vwap)."""

    stamps: list[datetime]
    prices: tuple[list[Decimal], list[Decimal], list[Decimal], list[Decimal]]
    volumes: list[int]
    vwaps: list[Decimal | None] | None

    def bars(self, symbol: str) -> list[Bar]:
        """The `Bar` records of `symbol`, one per row."""
        vwaps: Iterable[Decimal | None] = (
            self.vwaps if self.vwaps is not None else itertools.repeat(None)
        )
        return list(
            map(Bar, itertools.repeat(symbol), self.stamps, *self.prices, self.volumes, vwaps)
        )


Raw = str | Decimal | float | int | datetime | date | None


class _GcPause:
    """Pause the cyclic GC while a file's bars are built (nested and thread-safe).

    Building ~8,000 frozen Bar objects per file triggers collections that rescan every bar already
    loaded; none of these objects form cycles, so pausing roughly halves a 500-symbol load.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._resume:
                gc.enable()


gc_paused = _GcPause()


def _fail(path: Path, row: int, rule: str, detail: str) -> BarValidationError:
    return BarValidationError(path, row, rule, detail)


def _decimal(value: Raw, cache: ParseCache, path: Path, row: int, column: str) -> Decimal:
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        cached = cache.decimals.get(value)
        if cached is not None:
            return cached
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise _fail(path, row, RULE_BAD_VALUE, f"{column}={value!r} is not a decimal") from None
        if not result.is_finite():
            raise _fail(path, row, RULE_BAD_VALUE, f"{column}={value!r} is not finite")
        cache.decimals[value] = result
        return result
    elif isinstance(value, int | float) and not isinstance(value, bool):
        # A Parquet float column: its shortest repr is the decimal text it was written from.
        return _decimal(repr(value), cache, path, row, column)
    else:
        raise _fail(path, row, RULE_BAD_VALUE, f"{column}={value!r} is not a decimal")
    if not result.is_finite():
        raise _fail(path, row, RULE_BAD_VALUE, f"{column}={value!r} is not finite")
    return result


def _volume(value: Raw, path: Path, row: int) -> int:
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            return int(value)
    except ValueError:
        pass
    try:
        number = Decimal(value) if isinstance(value, str | Decimal) else Decimal(repr(value))
    except (InvalidOperation, TypeError):
        number = Decimal("NaN")
    if not number.is_finite() or number != number.to_integral_value():
        raise _fail(path, row, RULE_BAD_VALUE, f"volume={value!r} is not a whole number")
    return int(number)


def _timestamp(value: Raw, cache: ParseCache, path: Path, row: int) -> datetime:
    if isinstance(value, str):
        cached = cache.stamps.get(value)
        if cached is not None:
            return cached
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _fail(path, row, RULE_BAD_VALUE, f"ts_utc={value!r} is not ISO 8601") from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise _fail(path, row, RULE_BAD_VALUE, f"ts_utc={value!r} is not a timestamp")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        # Naive timestamps are never guessed to be UTC (STYLE §2.11).
        raise _fail(path, row, RULE_BAD_VALUE, f"ts_utc={value!r} has no UTC offset (add 'Z')")
    result = parsed.astimezone(UTC)
    if isinstance(value, str):
        cache.stamps[value] = result
    return result


def _check_prices(
    path: Path, row: int, prices: tuple[Decimal, Decimal, Decimal, Decimal], volume: int
) -> None:
    """Rules of §14 on one row: positive prices, high >= low, open/close in range, volume >= 0."""
    open_, high, low, close = prices
    if open_ <= _ZERO or high <= _ZERO or low <= _ZERO or close <= _ZERO:
        raise _fail(
            path, row, RULE_NON_POSITIVE_PRICE, f"open={open_} high={high} low={low} close={close}"
        )
    if high < low:
        raise _fail(path, row, RULE_HIGH_BELOW_LOW, f"high={high} < low={low}")
    if open_ < low or open_ > high:
        raise _fail(path, row, RULE_OPEN_OUTSIDE, f"open={open_} outside [{low}, {high}]")
    if close < low or close > high:
        raise _fail(path, row, RULE_CLOSE_OUTSIDE, f"close={close} outside [{low}, {high}]")
    if volume < 0:
        raise _fail(path, row, RULE_NEGATIVE_VOLUME, f"volume={volume}")


def _check_order(path: Path, row: int, previous: Any, current: Any, column: str) -> None:
    if previous is None:
        return
    if current == previous:
        rule = RULE_DUPLICATE if column == "ts_utc" else RULE_DUPLICATE_DATE
        raise _fail(path, row, rule, f"{column}={current} repeats the previous row")
    if current < previous:
        rule = RULE_UNSORTED if column == "ts_utc" else RULE_UNSORTED_DATE
        raise _fail(path, row, rule, f"{column}={current} is before the previous row ({previous})")


# -- table readers -------------------------------------------------------------------------------


def _read_csv_columns(
    path: Path, required: Sequence[str], data: bytes | None = None
) -> dict[str, Sequence[Raw]]:
    try:
        if data is None:
            with open(path, newline="", encoding="utf-8") as handle:
                header, rows = _csv_rows(handle)
        else:
            header, rows = _csv_rows(io.StringIO(data.decode("utf-8"), newline=""))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _fail(path, 0, RULE_UNREADABLE, f"cannot read CSV: {exc}") from exc
    if header is None:
        raise _fail(path, 0, RULE_MISSING_COLUMN, f"empty file; required: {', '.join(required)}")
    names = [name.strip() for name in header]
    _require_columns(path, names, required)
    width = len(names)
    for number, values in enumerate(rows, start=1):
        if len(values) != width:
            raise _fail(path, number, RULE_BAD_VALUE, f"{len(values)} fields, header has {width}")
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return {name: columns[index] for index, name in enumerate(names)}


def _csv_rows(handle: Iterable[str]) -> tuple[list[str] | None, list[list[str]]]:
    reader = csv.reader(handle)
    return next(reader, None), list(reader)


def _read_parquet_columns(
    path: Path, required: Sequence[str], data: bytes | None = None
) -> dict[str, Sequence[Raw]]:
    import pyarrow as pa  # imported lazily: most runs only read CSV
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path if data is None else pa.BufferReader(data))
    except (OSError, pa.ArrowException) as exc:
        raise _fail(path, 0, RULE_UNREADABLE, f"cannot read Parquet: {exc}") from exc
    _require_columns(path, list(table.column_names), required)
    for name in ("ts_utc",):
        if name in table.column_names:
            kind = table.schema.field(name).type
            if pa.types.is_timestamp(kind) and kind.tz is None:
                raise _fail(path, 0, RULE_BAD_VALUE, "ts_utc is a timestamp without time zone")
    return {name: table.column(name).to_pylist() for name in table.column_names}


def _require_columns(path: Path, names: Sequence[str], required: Sequence[str]) -> None:
    missing = [name for name in required if name not in names]
    if missing:
        raise _fail(
            path,
            0,
            RULE_MISSING_COLUMN,
            f"missing column(s) {', '.join(missing)}; found: {', '.join(names) or 'none'}",
        )


def read_columns(
    path: Path, required: Sequence[str], data: bytes | None = None
) -> dict[str, Sequence[Raw]]:
    """Columns of a CSV or Parquet file (by suffix), after checking the required ones exist.

    `data` is the file's bytes when the caller already read them (the bars cache hashes them).
    """
    reader: Callable[[Path, Sequence[str], bytes | None], dict[str, Sequence[Raw]]]
    reader = _read_parquet_columns if path.suffix.lower() == ".parquet" else _read_csv_columns
    return reader(path, required, data)


# -- public readers ------------------------------------------------------------------------------


def _decimal_column(
    values: Sequence[Raw], cache: ParseCache, path: Path, column: str
) -> list[Decimal]:
    """Cached strings map at C speed; only misses (new strings, Parquet values) go row by row."""
    found: list[Decimal | None] = list(map(cache.decimals.get, values))  # type: ignore[arg-type]
    if any(map(operator.is_, found, itertools.repeat(None))):
        for index, item in enumerate(found):
            if item is None:
                found[index] = _decimal(values[index], cache, path, index + 1, column)
    return found  # type: ignore[return-value]


def _stamp_column(values: Sequence[Raw], cache: ParseCache, path: Path) -> list[datetime]:
    found: list[datetime | None] = list(map(cache.stamps.get, values))  # type: ignore[arg-type]
    if any(map(operator.is_, found, itertools.repeat(None))):
        for index, item in enumerate(found):
            if item is None:
                found[index] = _timestamp(values[index], cache, path, index + 1)
    return found  # type: ignore[return-value]


def _volume_column(values: Sequence[Raw], path: Path) -> list[int]:
    if all(type(value) is str for value in values[:1]):
        try:
            return list(map(int, values))  # type: ignore[arg-type]
        except ValueError:
            pass  # a row like "12.0" or "x": the row-by-row path accepts or names it
    return [_volume(value, path, index + 1) for index, value in enumerate(values)]


def _validate_rows(
    path: Path,
    prices: tuple[list[Decimal], list[Decimal], list[Decimal], list[Decimal]],
    volumes: list[int],
) -> None:
    """One chained comparison per row; a failing row is re-checked rule by rule for the message."""
    rows = zip(*prices, volumes, strict=True)
    for index, (open_, high, low, close, volume) in enumerate(rows):
        if not (_ZERO < low <= open_ <= high and low <= close <= high and volume >= 0):
            _check_prices(path, index + 1, (open_, high, low, close), volume)


def _validate_order(path: Path, keys: Sequence[Any], column: str) -> None:
    if all(map(operator.lt, keys, keys[1:])):
        return
    for index in range(1, len(keys)):
        _check_order(path, index + 1, keys[index - 1], keys[index], column)


def read_bars_file(path: Path, symbol: str, *, cache: ParseCache | None = None) -> list[Bar]:
    """Read and validate one symbol's 1-minute bars (CSV or Parquet, optional `vwap`)."""
    with gc_paused:
        return parse_bar_columns(path, cache if cache is not None else ParseCache()).bars(symbol)


def parse_bar_columns(path: Path, cache: ParseCache, data: bytes | None = None) -> BarColumns:
    """Parse and validate a bars file (or its already read bytes `data`) into columns."""
    columns = read_columns(path, BAR_COLUMNS, data)
    prices = (
        _decimal_column(columns["open"], cache, path, "open"),
        _decimal_column(columns["high"], cache, path, "high"),
        _decimal_column(columns["low"], cache, path, "low"),
        _decimal_column(columns["close"], cache, path, "close"),
    )
    volumes = _volume_column(columns["volume"], path)
    _validate_rows(path, prices, volumes)
    stamps = _stamp_column(columns["ts_utc"], cache, path)
    _validate_order(path, stamps, "ts_utc")
    raw_vwaps = columns.get("vwap")
    vwaps = (
        [_optional_vwap(value, cache, path, row) for row, value in enumerate(raw_vwaps, start=1)]
        if raw_vwaps is not None
        else None
    )
    return BarColumns(stamps, prices, volumes, vwaps)


def _optional_vwap(value: Raw, cache: ParseCache, path: Path, row: int) -> Decimal | None:
    if value is None or value == "":
        return None
    vwap = _decimal(value, cache, path, row, "vwap")
    if vwap <= _ZERO:
        raise _fail(path, row, RULE_NON_POSITIVE_PRICE, f"vwap={vwap}")
    return vwap


def read_daily_file(path: Path, symbol: str, *, cache: ParseCache | None = None) -> list[DailyBar]:
    """Read and validate one symbol's daily bars (`date` = exchange date YYYY-MM-DD)."""
    cache = cache if cache is not None else ParseCache()
    columns = read_columns(path, DAILY_COLUMNS)
    prices = (
        _decimal_column(columns["open"], cache, path, "open"),
        _decimal_column(columns["high"], cache, path, "high"),
        _decimal_column(columns["low"], cache, path, "low"),
        _decimal_column(columns["close"], cache, path, "close"),
    )
    volumes = _volume_column(columns["volume"], path)
    _validate_rows(path, prices, volumes)
    days = [_date(value, path, row) for row, value in enumerate(columns["date"], start=1)]
    _validate_order(path, days, "date")
    texts = [day.isoformat() for day in days]
    return list(map(DailyBar, itertools.repeat(symbol), texts, *prices, volumes))


def _date(value: Raw, path: Path, row: int) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _fail(path, row, RULE_BAD_VALUE, f"date={value!r} is not YYYY-MM-DD") from None


def read_vix_file(path: Path, *, cache: ParseCache | None = None) -> list[tuple[datetime, Decimal]]:
    """Read and validate a VIX series: sorted unique `ts_utc`, positive `value`."""
    cache = cache if cache is not None else ParseCache()
    columns = read_columns(path, VIX_COLUMNS)
    series: list[tuple[datetime, Decimal]] = []
    previous: datetime | None = None
    for index, (ts_raw, value_raw) in enumerate(
        zip(columns["ts_utc"], columns["value"], strict=True)
    ):
        row = index + 1
        value = _decimal(value_raw, cache, path, row, "value")
        if value <= _ZERO:
            raise _fail(path, row, RULE_NON_POSITIVE_PRICE, f"value={value}")
        ts = _timestamp(ts_raw, cache, path, row)
        _check_order(path, row, previous, ts, "ts_utc")
        previous = ts
        series.append((ts, value))
    return series
