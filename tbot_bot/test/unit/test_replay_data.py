"""Replay data loader and the validation rules of trading spec §14, one rule at a time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tbot_bot.errors import DataError
from tbot_bot.market.bar_files import read_daily_file, read_vix_file
from tbot_bot.market.replay_data import (
    BarValidationError,
    load_data_set,
    read_bars_file,
    read_reference_file,
)

HEADER = "ts_utc,open,high,low,close,volume"
GOOD = [
    "2022-05-19T13:30:00Z,10.00,10.50,9.90,10.20,1000",
    "2022-05-19T13:31:00Z,10.20,10.30,10.10,10.25,0",
    "2022-05-19T13:32:00Z,10.25,10.25,10.00,10.00,500",
]


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def replace_row(index: int, row: str) -> list[str]:
    rows = list(GOOD)
    rows[index] = row
    return rows


def test_valid_csv_gives_decimal_bars_with_utc_starts(tmp_path: Path) -> None:
    bars = read_bars_file(write_csv(tmp_path / "X.csv", HEADER, GOOD), "X")
    assert [bar.close for bar in bars] == [Decimal("10.20"), Decimal("10.25"), Decimal("10.00")]
    assert bars[0].ts_utc == datetime(2022, 5, 19, 13, 30, tzinfo=UTC)
    assert bars[0].end_utc == datetime(2022, 5, 19, 13, 31, tzinfo=UTC)
    assert bars[1].volume == 0
    assert all(bar.symbol == "X" and bar.vwap is None for bar in bars)


def test_optional_vwap_column_and_offsets_are_normalised(tmp_path: Path) -> None:
    rows = [
        "2022-05-19T09:30:00-04:00,10.00,10.50,9.90,10.20,1000,10.1",
        "2022-05-19T13:31:00+00:00,10.20,10.30,10.10,10.25,7,",
    ]
    bars = read_bars_file(write_csv(tmp_path / "X.csv", HEADER + ",vwap", rows), "X")
    assert bars[0].ts_utc == datetime(2022, 5, 19, 13, 30, tzinfo=UTC)
    assert bars[0].vwap == Decimal("10.1")
    assert bars[1].vwap is None


@pytest.mark.parametrize(
    ("rows", "rule", "row"),
    [
        (replace_row(1, "2022-05-19T13:29:00Z,10.20,10.30,10.10,10.25,0"), "unsorted_ts", 2),
        (replace_row(2, "2022-05-19T13:31:00Z,10.25,10.25,10.00,10.00,500"), "duplicate_ts", 3),
        (replace_row(1, "2022-05-19T13:31:00Z,10.20,10.00,10.30,10.25,0"), "high_below_low", 2),
        (
            replace_row(0, "2022-05-19T13:30:00Z,10.60,10.50,9.90,10.20,1000"),
            "open_outside_range",
            1,
        ),
        (
            replace_row(0, "2022-05-19T13:30:00Z,9.80,10.50,9.90,10.20,1000"),
            "open_outside_range",
            1,
        ),
        (
            replace_row(2, "2022-05-19T13:32:00Z,10.25,10.25,10.00,10.26,500"),
            "close_outside_range",
            3,
        ),
        (
            replace_row(2, "2022-05-19T13:32:00Z,10.25,10.25,10.00,9.99,500"),
            "close_outside_range",
            3,
        ),
        (replace_row(1, "2022-05-19T13:31:00Z,10.20,10.30,10.10,10.25,-1"), "negative_volume", 2),
        (replace_row(1, "2022-05-19T13:31:00Z,0,10.30,0,0.00,5"), "non_positive_price", 2),
        (replace_row(1, "2022-05-19T13:31:00Z,-1,-1,-2,-1,5"), "non_positive_price", 2),
        (replace_row(1, "2022-05-19T13:31:00Z,abc,10.30,10.10,10.25,0"), "bad_value", 2),
        (replace_row(1, "2022-05-19T13:31:00Z,NaN,10.30,10.10,10.25,0"), "bad_value", 2),
        (replace_row(1, "2022-05-19T13:31:00,10.20,10.30,10.10,10.25,0"), "bad_value", 2),
        (replace_row(1, "2022-05-19T13:31:00Z,10.20,10.30,10.10,10.25,1.5"), "bad_value", 2),
        (replace_row(1, "2022-05-19T13:31:00Z,10.20,10.30,10.10"), "bad_value", 2),
    ],
)
def test_csv_rule_violation_names_file_row_and_rule(
    tmp_path: Path, rows: list[str], rule: str, row: int
) -> None:
    path = write_csv(tmp_path / "BAD.csv", HEADER, rows)
    with pytest.raises(BarValidationError) as caught:
        read_bars_file(path, "BAD")
    assert (caught.value.rule, caught.value.row) == (rule, row)
    assert isinstance(caught.value, DataError)
    assert str(path) in str(caught.value)
    assert f"row {row}: {rule}" in str(caught.value)


def test_integral_volume_text_is_accepted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "X.csv", HEADER, replace_row(1, GOOD[1].rsplit(",", 1)[0] + ",7.0"))
    assert read_bars_file(path, "X")[1].volume == 7


@pytest.mark.parametrize("missing", ["ts_utc", "open", "high", "low", "close", "volume"])
def test_missing_column_is_reported_on_the_header(tmp_path: Path, missing: str) -> None:
    names = HEADER.split(",")
    keep = [i for i, name in enumerate(names) if name != missing]
    rows = [",".join(row.split(",")[i] for i in keep) for row in GOOD]
    path = write_csv(tmp_path / "X.csv", ",".join(names[i] for i in keep), rows)
    with pytest.raises(BarValidationError, match=rf"header: missing_column: .*{missing}") as caught:
        read_bars_file(path, "X")
    assert caught.value.row == 0


def test_empty_file_is_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "E.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(BarValidationError, match="missing_column"):
        read_bars_file(path, "E")


# -- Parquet -------------------------------------------------------------------------------------


def typed_table(**overrides: pa.Array) -> pa.Table:
    stamps = [datetime(2022, 5, 19, 13, 30 + i, tzinfo=UTC) for i in range(3)]
    columns = {
        "ts_utc": pa.array(stamps, type=pa.timestamp("ns", tz="UTC")),
        "open": pa.array([10.0, 10.2, 10.25]),
        "high": pa.array([10.5, 10.3, 10.25]),
        "low": pa.array([9.9, 10.1, 10.0]),
        "close": pa.array([10.2, 10.25, 10.0]),
        "volume": pa.array([1000, 0, 500], type=pa.int64()),
    }
    columns.update(overrides)
    return pa.table(columns)


def test_parquet_typed_columns_convert_exactly(tmp_path: Path) -> None:
    path = tmp_path / "P.parquet"
    vwap = pa.array([Decimal("10.11"), None, Decimal("10.05")], type=pa.decimal128(10, 2))
    pq.write_table(typed_table(vwap=vwap), path)
    bars = read_bars_file(path, "P")
    assert [bar.high for bar in bars] == [Decimal("10.5"), Decimal("10.3"), Decimal("10.25")]
    assert bars[2].ts_utc == datetime(2022, 5, 19, 13, 32, tzinfo=UTC)
    assert [bar.vwap for bar in bars] == [Decimal("10.11"), None, Decimal("10.05")]


def test_parquet_string_columns_use_the_csv_rules(tmp_path: Path) -> None:
    columns = list(zip(*(row.split(",") for row in GOOD), strict=True))
    table = pa.table(
        {name: list(col) for name, col in zip(HEADER.split(","), columns, strict=True)}
    )
    path = tmp_path / "S.parquet"
    pq.write_table(table, path)
    assert read_bars_file(path, "S")[0].open == Decimal("10.00")


@pytest.mark.parametrize(
    ("override", "rule", "row"),
    [
        ({"high": pa.array([10.5, 10.0, 10.25])}, "high_below_low", 2),
        ({"open": pa.array([10.0, 10.2, 10.3])}, "open_outside_range", 3),
        ({"close": pa.array([10.2, 10.35, 10.0])}, "close_outside_range", 2),
        ({"volume": pa.array([1000, -5, 500], type=pa.int64())}, "negative_volume", 2),
        (
            {"low": pa.array([0.0, 10.1, 10.0]), "open": pa.array([0.0, 10.2, 10.25])},
            "non_positive_price",
            1,
        ),
        ({"volume": pa.array([1000.0, 2.5, 500.0])}, "bad_value", 2),
    ],
)
def test_parquet_rule_violations(
    tmp_path: Path, override: dict[str, pa.Array], rule: str, row: int
) -> None:
    path = tmp_path / "B.parquet"
    pq.write_table(typed_table(**override), path)
    with pytest.raises(BarValidationError) as caught:
        read_bars_file(path, "B")
    assert (caught.value.rule, caught.value.row) == (rule, row)
    assert str(path) in str(caught.value)


def test_parquet_unsorted_and_duplicate_timestamps(tmp_path: Path) -> None:
    base = datetime(2022, 5, 19, 13, 30, tzinfo=UTC)
    for stamps, rule in (
        ([base, base], "duplicate_ts"),
        ([base.replace(minute=31), base], "unsorted_ts"),
    ):
        path = tmp_path / f"{rule}.parquet"
        table = (
            typed_table()
            .slice(0, 2)
            .set_column(0, "ts_utc", pa.array(stamps, type=pa.timestamp("us", tz="UTC")))
        )
        pq.write_table(table, path)
        with pytest.raises(BarValidationError, match=f"row 2: {rule}"):
            read_bars_file(path, "X")


def test_parquet_naive_timestamps_and_missing_column_are_refused(tmp_path: Path) -> None:
    stamps = [datetime(2022, 5, 19, 13, 30 + i, tzinfo=UTC).replace(tzinfo=None) for i in range(3)]
    naive = pa.array(stamps, type=pa.timestamp("ns"))
    path = tmp_path / "N.parquet"
    pq.write_table(typed_table(ts_utc=naive), path)
    with pytest.raises(BarValidationError, match="without time zone"):
        read_bars_file(path, "N")
    pq.write_table(typed_table().drop_columns(["volume"]), path)
    with pytest.raises(BarValidationError, match="missing_column: missing column"):
        read_bars_file(path, "N")


# -- daily, VIX, reference -----------------------------------------------------------------------

DAILY_HEADER = "date,open,high,low,close,volume"


def test_daily_rules(tmp_path: Path) -> None:
    good = ["2022-05-17,10,11,9,10.5,100", "2022-05-18,10.5,11,10,10.8,120"]
    rows = read_daily_file(write_csv(tmp_path / "D.csv", DAILY_HEADER, good), "D")
    assert rows[1].date == "2022-05-18" and rows[1].close == Decimal("10.8")
    cases = {
        "duplicate_date": [good[0], good[0]],
        "unsorted_date": [good[1], good[0]],
        "high_below_low": [good[0], "2022-05-18,10.5,9,10,10.8,120"],
        "bad_value": [good[0], "2022-13-18,10.5,11,10,10.8,120"],
    }
    for rule, bad in cases.items():
        with pytest.raises(BarValidationError, match=f"row 2: {rule}"):
            read_daily_file(write_csv(tmp_path / f"{rule}.csv", DAILY_HEADER, bad), "D")


def test_vix_rules(tmp_path: Path) -> None:
    header = "ts_utc,value"
    series = read_vix_file(write_csv(tmp_path / "v.csv", header, ["2022-05-19T13:30:00Z,25.10"]))
    assert series == [(datetime(2022, 5, 19, 13, 30, tzinfo=UTC), Decimal("25.10"))]
    with pytest.raises(BarValidationError, match="row 1: non_positive_price"):
        read_vix_file(write_csv(tmp_path / "z.csv", header, ["2022-05-19T13:30:00Z,0"]))
    rows = ["2022-05-19T13:31:00Z,25", "2022-05-19T13:30:00Z,26"]
    with pytest.raises(BarValidationError, match="row 2: unsorted_ts"):
        read_vix_file(write_csv(tmp_path / "u.csv", header, rows))


def test_reference_requires_local_file_columns_and_unique_symbols(tmp_path: Path) -> None:
    header = "symbol,exchange,type,lastClose,marketCap,synthetic"
    rows = read_reference_file(
        write_csv(tmp_path / "r.csv", header, ["AAA,NYSE,common,10,5e9,true"])
    )
    assert rows == [
        {
            "symbol": "AAA",
            "exchange": "NYSE",
            "type": "common",
            "lastClose": "10",
            "marketCap": "5e9",
            "synthetic": "true",
        }
    ]
    with pytest.raises(BarValidationError, match=r"missing_column.*marketCap"):
        read_reference_file(write_csv(tmp_path / "m.csv", "symbol,exchange,type,lastClose", []))
    dup = ["AAA,NYSE,common,10,5e9,true", "AAA,NYSE,common,11,5e9,true"]
    with pytest.raises(BarValidationError, match="row 2: duplicate_symbol"):
        read_reference_file(write_csv(tmp_path / "d.csv", header, dup))


# -- data set ------------------------------------------------------------------------------------


def make_set(root: Path, **manifest_overrides: object) -> Path:
    manifest = {
        "name": "tiny",
        "source": "unit test",
        "synthetic": True,
        "seed": 1,
        "sessions": ["2022-05-19", "2022-05-20"],
        "symbols": ["AAA"],
    }
    manifest.update(manifest_overrides)
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    rows = [
        *GOOD,
        "2022-05-20T13:30:00Z,10.00,10.10,9.95,10.05,10",
        "2022-05-20T19:59:00Z,10,10,10,10,1",
    ]
    write_csv(root / "bars_1m" / "AAA.csv", HEADER, rows)
    write_csv(
        root / "daily" / "AAA.csv",
        DAILY_HEADER,
        [
            "2022-05-18,9,10,8,9.5,100",
            "2022-05-19,9.9,10.5,9.9,10,200",
            "2022-05-20,10,10.1,9.9,10,300",
        ],
    )
    write_csv(
        root / "vix.csv", "ts_utc,value", ["2022-05-19T13:30:00Z,25", "2022-05-19T13:35:00Z,26"]
    )
    return root


def test_data_set_loads_lazily_and_splits_sessions(tmp_path: Path) -> None:
    data = load_data_set(make_set(tmp_path / "set"))
    assert data.symbols == ["AAA"] and data.synthetic
    assert data.sessions == [date(2022, 5, 19), date(2022, 5, 20)]
    assert len(data.bars("AAA")) == 5
    assert data.bars("AAA") is data.bars("AAA")  # cached
    day2 = data.bars_for_session("AAA", date(2022, 5, 20))
    assert [bar.ts_utc.hour for bar in day2] == [13, 19]
    assert data.bars_for_session("AAA", date(2022, 5, 23)) == ()
    assert [row.date for row in data.daily_before("AAA", date(2022, 5, 20))] == [
        "2022-05-18",
        "2022-05-19",
    ]
    assert [row.date for row in data.daily_before("AAA", date(2022, 5, 20), 1)] == ["2022-05-19"]
    assert data.vix_at(datetime(2022, 5, 19, 13, 34, tzinfo=UTC)) == Decimal("25")
    assert data.vix_at(datetime(2022, 5, 19, 13, 35, tzinfo=UTC)) == Decimal("26")
    assert data.vix_at(datetime(2022, 5, 19, 13, 29, tzinfo=UTC)) is None
    assert data.reference() == []  # no reference.csv: the input is unavailable, not an error
    with pytest.raises(ValueError, match="timezone-aware"):
        data.vix_at(datetime(2022, 5, 19, 13, 34))  # noqa: DTZ001 - the naive value is the point
    with pytest.raises(DataError, match="not in data set"):
        data.bars("ZZZ")


def test_bad_bars_surface_on_first_use_not_at_open(tmp_path: Path) -> None:
    root = make_set(tmp_path / "set")
    write_csv(root / "bars_1m" / "AAA.csv", HEADER, replace_row(1, GOOD[0]))
    data = load_data_set(root)  # opening reads only the manifest
    with pytest.raises(BarValidationError, match="duplicate_ts"):
        data.bars("AAA")


def test_missing_optional_files_give_empty_inputs(tmp_path: Path) -> None:
    root = make_set(tmp_path / "set")
    (root / "vix.csv").unlink()
    (root / "daily" / "AAA.csv").unlink()
    data = load_data_set(root)
    assert data.vix() == () and data.daily("AAA") == () and data.vix_at(datetime.now(UTC)) is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"synthetic": "yes"}, "'synthetic' must be true or false"),
        ({"sessions": ["2022-05-20", "2022-05-19"]}, "'sessions' must be sorted"),
        ({"symbols": ["AAA", "AAA"]}, "'symbols' must be unique"),
        ({"symbols": ["../x"]}, "unsafe name"),
        ({"symbols": ["AAA", "BBB"]}, "no bars_1m file for 1 listed symbol"),
    ],
)
def test_manifest_problems_name_the_key(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        load_data_set(make_set(tmp_path / "set", **overrides))


def test_missing_manifest_or_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_data_set(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"manifest.json is missing"):
        load_data_set(tmp_path / "empty")
    root = make_set(tmp_path / "set")
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    del manifest["seed"]
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(DataError, match="missing key"):
        load_data_set(root)
