"""A validated binary cache of parsed 1-minute bars files (trading spec §14 replay data).

Parsing and validating a CSV costs ~3.4 µs per bar; rebuilding the same `Bar` records from this
cache costs about a third of that, so the second and later loads of an unchanged file skip both the
CSV parser and the row rules. Only a file that passed every rule is ever stored.

Key: the source's absolute path, its size and mtime_ns, the SHA-256 of its bytes, `FORMAT_VERSION`
and `VALIDATOR_VERSION`. Size and mtime_ns are a pre-check only (a mismatch is a miss before any
hashing); they are never enough alone, because copies (`cp -p`, rsync, tar) keep mtimes and a
same-size edit can land within the mtime granularity. So a hit also needs the hash of the bytes
just read to match; hashing a ~0.5 MB file costs ~0.3 ms, under a tenth of parsing it, and those
same bytes are what a miss parses (one read; what is stored is what was hashed).

File layout (little endian): `_HEADER`, then the body: source path (UTF-8), the distinct price
texts joined by newlines (`str(Decimal)` gives back the same Decimal, exponent included; never a
float), `ts` int64 epoch microseconds, open/high/low/close indices into the texts (uint16 or
uint32), volume int64, and vwap indices when the file has vwaps (index == count of texts = None).
The header carries the SHA-256 of the body. A cache file is data only: no pickle, nothing runs.

A bad cache file (foreign, truncated, corrupt, other version or key) is ignored with a debug log
and rewritten after a fresh parse; a cache that cannot be written only logs. `TBOT_BARS_CACHE=0`
(or false/no/off) turns the cache off.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from tbot_bot.config.fileio import OUTPUT_DIR_MODE, atomic_write_bytes, ensure_dir
from tbot_bot.config.path_resolver import DataCache
from tbot_bot.market.bar_files import (
    BarColumns,
    ParseCache,
    gc_paused,
    parse_bar_columns,
    read_bars_file,
)
from tbot_bot.market.bars import Bar

__all__ = [
    "ENV_SWITCH",
    "FORMAT_VERSION",
    "VALIDATOR_VERSION",
    "cache_enabled",
    "cache_file_for",
    "load_bars",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Bump whenever a §14 rule or a conversion in bar_files.py changes: every entry is then re-parsed.
VALIDATOR_VERSION = 1
ENV_SWITCH = "TBOT_BARS_CACHE"
_OFF = {"0", "false", "no", "off"}
_MAGIC = b"TBOTBAR\x00"
# magic, format, validator, size, mtime_ns, rows, texts blob length, path length, texts count,
# index width (2|4), has vwap, source SHA-256, body SHA-256.
_HEADER = struct.Struct("<8sIIQqQQIIBB2x32s32s")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INT64 = (-(2**63), 2**63 - 1)


class _CorruptError(ValueError):
    """A cache file that must not be used (the message says why, for the debug log)."""


@dataclass(frozen=True)
class _Source:
    """The source file as read once: its bytes and the key fields derived from them."""

    path: Path
    data: bytes
    size: int
    mtime_ns: int

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.data).digest()


def cache_enabled() -> bool:
    """False when `TBOT_BARS_CACHE` is 0/false/no/off (read at each load, so tests can flip it)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in _OFF


def cache_file_for(path: Path) -> Path:
    """The cache file of a source file, named by a hash of its absolute path."""
    name = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:40] + ".bars"
    return DataCache.at().bars_cache_file(name)


def load_bars(path: Path, symbol: str, *, cache: ParseCache | None = None) -> list[Bar]:
    """`read_bars_file` through the cache: same bars, same `BarValidationError` on a bad file."""
    cache = cache if cache is not None else ParseCache()
    if not cache_enabled():
        return read_bars_file(path, symbol, cache=cache)
    with gc_paused:
        try:
            source = _read_source(path)
        except OSError:
            # The parser reads again and raises the usual `unreadable_file` error.
            return read_bars_file(path, symbol, cache=cache)
        target = cache_file_for(path)
        digest = source.digest
        columns = _load_entry(target, source, digest, cache)
        if columns is None:
            columns = parse_bar_columns(source.path, cache, source.data)  # raises when invalid
            _store_entry(target, source, digest, columns)
        return columns.bars(symbol)


def _read_source(path: Path) -> _Source:
    resolved = path.resolve()
    with open(resolved, "rb") as handle:
        stat = os.fstat(handle.fileno())
        data = handle.read()
    return _Source(resolved, data, len(data), stat.st_mtime_ns)


# -- reading an entry ----------------------------------------------------------------------------


def _load_entry(
    target: Path, source: _Source, digest: bytes, cache: ParseCache
) -> BarColumns | None:
    """The cached columns, or None (missing or unusable entry; the reason goes to the debug log)."""
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.debug("bars cache %s unreadable (%s); parsing %s", target, exc, source.path)
        return None
    try:
        return _decode(raw, source, digest, cache)
    except _CorruptError as exc:
        log.debug("bars cache %s ignored (%s); re-parsing %s", target, exc, source.path)
        return None


def _decode(raw: bytes, source: _Source, digest: bytes, cache: ParseCache) -> BarColumns:
    if len(raw) < _HEADER.size:
        raise _CorruptError("shorter than its header")
    fields = _HEADER.unpack_from(raw)
    (
        magic,
        fmt,
        validator,
        size,
        mtime_ns,
        rows,
        blob_len,
        path_len,
        count,
        width,
        vwap,
        src,
        body,
    ) = fields
    if magic != _MAGIC or fmt != FORMAT_VERSION or validator != VALIDATOR_VERSION:
        raise _CorruptError("foreign file or other format/validator version")
    if size != source.size or mtime_ns != source.mtime_ns:
        raise _CorruptError("source size or mtime changed")
    if src != digest:
        raise _CorruptError("source content changed (SHA-256 differs)")
    if width not in (2, 4) or vwap not in (0, 1) or count + 1 > 1 << (8 * width):
        raise _CorruptError("bad index width or counts")
    expected = _HEADER.size + path_len + blob_len + rows * (16 + 4 * width + vwap * width)
    if len(raw) != expected:
        raise _CorruptError(f"length {len(raw)} != expected {expected}")
    view = memoryview(raw)[_HEADER.size :]
    if hashlib.sha256(view).digest() != body:
        raise _CorruptError("body checksum differs")
    if bytes(view[:path_len]) != str(source.path).encode("utf-8"):
        raise _CorruptError("written for another path")
    offset = path_len + blob_len
    texts = bytes(view[path_len:offset]).decode("ascii", "replace").split("\n") if count else []
    if len(texts) != count:
        raise _CorruptError("price text count differs")
    table = np.array([*_decimals(texts, cache), None], dtype=object)
    arrays = _arrays(view[offset:], rows, width, vwap == 1)
    if any(int(column.max(initial=0)) >= count for column in arrays[1:5]):
        raise _CorruptError("price index out of range")
    if vwap and int(arrays[6].max(initial=0)) > count:
        raise _CorruptError("vwap index out of range")
    opens, highs, lows, closes = (table[column].tolist() for column in arrays[1:5])
    return BarColumns(
        stamps=_stamps(arrays[0].tolist(), cache),
        prices=(opens, highs, lows, closes),
        volumes=arrays[5].tolist(),
        vwaps=table[arrays[6]].tolist() if vwap else None,
    )


def _arrays(body: memoryview, rows: int, width: int, vwap: bool) -> list[np.ndarray]:
    """ts, open, high, low, close, volume (and vwap) columns, in file order."""
    index = np.dtype(f"<u{width}")
    kinds = [np.dtype("<i8"), index, index, index, index, np.dtype("<i8")]
    kinds += [index] if vwap else []
    arrays, offset = [], 0
    for kind in kinds:
        arrays.append(np.frombuffer(body, dtype=kind, count=rows, offset=offset))
        offset += kind.itemsize * rows
    return arrays


def _decimals(texts: list[str], cache: ParseCache) -> list[Decimal]:
    """One Decimal per text, shared through the data set's ParseCache like a fresh parse."""
    found: list[Decimal] = []
    for text in texts:
        value = cache.decimals.get(text)
        if value is None:
            try:
                value = Decimal(text)
            except InvalidOperation:
                raise _CorruptError(f"price text {text!r} is not a decimal") from None
            if not value.is_finite() or value <= 0:
                raise _CorruptError(f"price text {text!r} is not a positive decimal")
            cache.decimals[text] = value
        found.append(value)
    return found


def _stamps(micros: list[int], cache: ParseCache) -> list[datetime]:
    """Aware UTC datetimes, one object per instant across the data set (as a fresh parse)."""
    epochs = cache.epochs
    found = list(map(epochs.get, micros))
    if None not in found:  # the usual case after the first symbol: no Python-level loop
        return found  # type: ignore[return-value]
    for index, item in enumerate(found):
        if item is None:
            stamp = epochs.setdefault(micros[index], _EPOCH + micros[index] * _MICROSECOND)
            found[index] = stamp
    return found  # type: ignore[return-value]


# -- writing an entry ----------------------------------------------------------------------------


def _store_entry(target: Path, source: _Source, digest: bytes, columns: BarColumns) -> None:
    """Write the entry atomically; a failure (read-only folder, odd values) only logs."""
    try:
        payload = _encode(source, digest, columns)
    except (OverflowError, ValueError) as exc:
        log.debug("bars of %s not cached (%s)", source.path, exc)
        return
    try:
        ensure_dir(target.parent, OUTPUT_DIR_MODE)
        atomic_write_bytes(target, payload)
    except OSError as exc:
        log.debug("bars cache %s not written (%s)", target, exc)


def _encode(source: _Source, digest: bytes, columns: BarColumns) -> bytes:
    rows = len(columns.stamps)
    vwaps = [value for value in columns.vwaps or () if value is not None]
    values = list(itertools.chain(*columns.prices, vwaps))
    # Distinct objects by identity: equal Decimals may print differently ("1.5" vs "1.50").
    distinct = list(dict(zip(map(id, values), values, strict=True)).values())
    position = {id(value): index for index, value in enumerate(distinct)}
    width = 2 if len(distinct) < 0xFFFF else 4
    index = np.dtype(f"<u{width}")
    path_bytes = str(source.path).encode("utf-8")
    blob = "\n".join(map(str, distinct)).encode("ascii")
    parts = [path_bytes, blob, _micros(columns.stamps).tobytes()]
    for column in columns.prices:
        indices = list(map(position.__getitem__, map(id, column)))
        parts.append(np.array(indices, dtype=index).tobytes())
    parts.append(np.array(columns.volumes, dtype=np.int64).tobytes())  # OverflowError: too big
    has_vwap = any(value is not None for value in columns.vwaps or ())
    if has_vwap:
        sentinel = len(distinct)
        marks = [sentinel if v is None else position[id(v)] for v in columns.vwaps or ()]
        parts.append(np.array(marks, dtype=index).tobytes())
    body = b"".join(parts)
    header = _HEADER.pack(
        _MAGIC,
        FORMAT_VERSION,
        VALIDATOR_VERSION,
        source.size,
        source.mtime_ns,
        rows,
        len(blob),
        len(path_bytes),
        len(distinct),
        width,
        int(has_vwap),
        digest,
        hashlib.sha256(body).digest(),
    )
    return header + body


def _micros(stamps: list[datetime]) -> np.ndarray:
    """Epoch microseconds (exact: timedelta floor division, no float)."""
    epochs = [(stamp - _EPOCH) // _MICROSECOND for stamp in stamps]
    low, high = _INT64
    if epochs and (min(epochs) < low or max(epochs) > high):
        raise OverflowError("timestamp outside int64 microseconds")
    return np.array(epochs, dtype=np.int64)
