"""Byte-stable writers for the market-data cache: CSV text, JSON manifests, staged folders.

Every derived file must be byte-identical across runs (trading spec §14, ARCHITECTURE §8): prices
are written from integer cents or rounded text (never a float repr), JSON keys are sorted, lines end
in "\\n", and nothing records the time of the run. A data set is written into a hidden staging
folder and renamed into place only when complete, so a reader never sees half a set.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def format_cents(cents: int) -> str:
    """Integer cents -> '12.34' (exact, 2 dp)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


class CentsText:
    """A lookup table of cents -> text; bulk writers index it instead of formatting each price."""

    def __init__(self) -> None:
        self._table: list[str] = []

    def __call__(self, cents: int) -> str:
        if cents < 0:
            return format_cents(cents)
        if cents >= len(self._table):
            self._table.extend(format_cents(c) for c in range(len(self._table), cents * 2 + 1))
        return self._table[cents]


def format_4dp(value: float) -> str:
    """A source float rounded to 4 dp, trailing zeros dropped down to 2 dp ('256.88', '257.035')."""
    text = f"{value:.4f}"
    while text.endswith("0") and len(text.rsplit(".", 1)[1]) > 2:
        text = text[:-1]
    return text


def ts_text(value: datetime) -> str:
    """`2022-05-19T13:30:00Z`: bar start in UTC, whole seconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_text(path: Path, text: str) -> None:
    """Plain write (the cache is rebuildable; whole sets become visible by a folder rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """CSV without quoting needs: callers pass plain tokens (no commas, quotes or newlines)."""
    lines = [",".join(header)]
    lines.extend(",".join(row) for row in rows)
    return "\n".join(lines) + "\n"


def quoted_csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """CSV for free text (company names with commas): quotes only where needed, "\\n" endings."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def json_text(payload: Any) -> str:
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def write_json(path: Path, payload: Any) -> None:
    write_text(path, json_text(payload))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: Path) -> Any | None:
    """A JSON file's content, or None when it is absent or unreadable (caches are rebuildable)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield an empty hidden folder beside `final`; on success it replaces `final` in one rename."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.with_name(f".{final.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if final.exists():
        # Rename the old set aside first so the swap itself is a single rename.
        retired = final.with_name(f".{final.name}.old")
        if retired.exists():
            shutil.rmtree(retired)
        final.rename(retired)
        staging.rename(final)
        shutil.rmtree(retired)
    else:
        staging.rename(final)
