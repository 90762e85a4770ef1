"""The validated binary cache of parsed bars files (market/bars_cache.py, trading spec §14)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pytest

from tbot_bot.market import bars_cache
from tbot_bot.market.bar_files import BarValidationError, ParseCache, read_bars_file
from tbot_bot.market.bars import Bar
from tbot_bot.market.bars_cache import cache_file_for, load_bars

HEADER = "ts_utc,open,high,low,close,volume"
ROWS = [
    "2024-03-04T14:30:00Z,10.00,10.50,9.90,10.20,1000",
    "2024-03-04T14:31:00+00:00,10.20,10.60,10.1,10.5,0",
    "2024-03-04T09:32:00.250-05:00,10.5,10.5,10.5,10.5,123456789012",
]


@pytest.fixture(autouse=True)
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`data_root()` (hence the cache) under tmp_path; the cache switched on explicitly."""
    root = tmp_path / "data"
    monkeypatch.setenv("TBOT_DATA_DIR", str(root))
    monkeypatch.setenv("TBOT_BARS_CACHE", "1")
    return root


def write(path: Path, lines: list[str], *, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def assert_same_bars(cached: list[Bar], fresh: list[Bar]) -> None:
    """Equal bar for bar, and equal down to Decimal exponents, value types and time zones."""
    assert cached == fresh
    for one, other in zip(cached, fresh, strict=True):
        for name in ("open", "high", "low", "close", "vwap"):
            left, right = getattr(one, name), getattr(other, name)
            assert type(left) is type(right)
            assert str(left) == str(right)  # 10.00 stays 10.00, not 10.0
        assert type(one.volume) is int
        assert one.ts_utc.tzinfo is UTC
        assert one.ts_utc == other.ts_utc


def test_cached_load_equals_a_fresh_parse(tmp_path: Path) -> None:
    path = write(tmp_path / "X.csv", ROWS)
    fresh = read_bars_file(path, "X")
    first = load_bars(path, "X")
    assert cache_file_for(path).is_file()
    assert cache_file_for(path).is_relative_to(tmp_path / "data")
    second = load_bars(path, "X", cache=ParseCache())
    assert_same_bars(first, fresh)
    assert_same_bars(second, fresh)
    assert second[2].ts_utc.microsecond == 250_000 and second[2].volume == 123456789012


def test_a_cache_hit_does_not_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "X.csv", ROWS)
    load_bars(path, "X")

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("parsed although the cache holds the file")

    monkeypatch.setattr(bars_cache, "parse_bar_columns", refuse)
    assert load_bars(path, "Y")[0].symbol == "Y"  # symbol is not part of the cached data


def test_vwap_column_round_trips(tmp_path: Path) -> None:
    lines = [row + vwap for row, vwap in zip(ROWS, [",10.1", ",", ",10.50"], strict=True)]
    path = write(tmp_path / "V.csv", lines, header=HEADER + ",vwap")
    load_bars(path, "V")
    cached = load_bars(path, "V")
    assert [bar.vwap for bar in cached] == [Decimal("10.1"), None, Decimal("10.50")]
    assert_same_bars(cached, read_bars_file(path, "V"))


def test_same_size_edit_invalidates_even_with_the_old_mtime(tmp_path: Path) -> None:
    path = write(tmp_path / "X.csv", ROWS)
    load_bars(path, "X")
    stat = path.stat()
    changed = [ROWS[0].replace("10.20,1000", "10.30,1000"), *ROWS[1:]]
    write(path, changed)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as `cp -p` or rsync would
    assert path.stat().st_size == stat.st_size
    reloaded = load_bars(path, "X")
    assert reloaded[0].close == Decimal("10.30")
    assert_same_bars(reloaded, read_bars_file(path, "X"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: b"",  # empty
        lambda raw: b"PK\x03\x04 not a bars cache at all" * 10,  # foreign
        lambda raw: raw[:-3] + bytes(byte ^ 0xFF for byte in raw[-3:]),  # body flipped
        lambda raw: raw[:8] + (99).to_bytes(4, "little") + raw[12:],  # other format version
    ],
)
def test_a_bad_cache_file_is_ignored_and_replaced(
    tmp_path: Path, damage: Callable[[bytes], bytes], caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "X.csv", ROWS)
    fresh = load_bars(path, "X")
    target = cache_file_for(path)
    good = target.read_bytes()
    assert damage(good) != good
    target.write_bytes(damage(good))
    with caplog.at_level(logging.DEBUG, logger="tbot_bot.market.bars_cache"):
        assert_same_bars(load_bars(path, "X"), fresh)
    assert target.read_bytes() == good  # rewritten by the fresh parse
    assert "ignored" in caplog.text


def test_a_bad_file_raises_the_same_error_on_every_load(tmp_path: Path) -> None:
    bad = [ROWS[0], "2024-03-04T14:31:00Z,10.20,10.00,10.10,10.05,5"]  # high < low
    path = write(tmp_path / "B.csv", bad)
    messages = []
    for _ in range(3):
        with pytest.raises(BarValidationError) as caught:
            load_bars(path, "B")
        assert (caught.value.rule, caught.value.row) == ("high_below_low", 2)
        messages.append(str(caught.value))
    assert len(set(messages)) == 1
    assert not cache_file_for(path).exists()


def test_disabled_cache_reads_the_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TBOT_BARS_CACHE", "0")
    path = write(tmp_path / "X.csv", ROWS)
    assert_same_bars(load_bars(path, "X"), read_bars_file(path, "X"))
    assert not cache_file_for(path).exists()


def test_unwritable_cache_only_logs(
    tmp_path: Path, data_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_root.mkdir()
    (data_root / "bars_cache").write_text("a file where the folder should be")  # even for root
    path = write(tmp_path / "X.csv", ROWS)
    with caplog.at_level(logging.DEBUG, logger="tbot_bot.market.bars_cache"):
        assert_same_bars(load_bars(path, "X"), read_bars_file(path, "X"))
    assert "not written" in caplog.text


def test_parquet_input_uses_the_cache(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "ts_utc": ["2024-03-04T14:30:00Z", "2024-03-04T14:31:00Z"],
            "open": [10.0, 10.25],
            "high": [10.5, 10.5],
            "low": [9.75, 10.0],
            "close": [10.25, 10.5],
            "volume": [100, 200],
        }
    )
    path = tmp_path / "P.parquet"
    pq.write_table(table, path)
    load_bars(path, "P")
    assert cache_file_for(path).is_file()
    assert_same_bars(load_bars(path, "P"), read_bars_file(path, "P"))
