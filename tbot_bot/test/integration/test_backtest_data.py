"""User data through `tbot backtest --data PATH` (trading spec §13 Replay, §14 validation rules).

Each bad-row rule of §14 must stop the backtest with an error naming the file, the row and the rule,
before any run folder is created; a good folder runs from CSV and from Parquet bars alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tbot_bot.runtime.cli import main
from tbot_bot.test.unit.backtest.data_builder import write_data_set

DAY = "2025-07-15"
HEADER = ["ts_utc", "open", "high", "low", "close", "volume"]


def backtest(data: Path, *extra: str) -> list[str]:
    return [
        "backtest", "--from", DAY, "--to", DAY, "--data", str(data), "--strategies", "open",
        *extra,
    ]  # fmt: skip


def rewrite_bbb(root: Path, edit: str) -> Path:
    """Break BBB's bars file in one way; returns the file."""
    path = root / "bars_1m" / "BBB.csv"
    lines = path.read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    if edit == "missing_column":
        lines = [",".join(HEADER[:-1])] + [",".join(row[:-1]) for row in rows]
    else:
        row = rows[2]  # data row 3
        if edit == "unsorted_ts":
            rows[2], rows[3] = rows[3], rows[2]
        elif edit == "duplicate_ts":
            rows[2][0] = rows[1][0]
        elif edit == "high_below_low":
            row[2], row[3] = row[3], row[2]
        elif edit == "negative_volume":
            row[5] = "-5"
        elif edit == "open_outside_range":
            row[1] = str(float(row[2]) + 1)
        elif edit == "non_positive_price":
            row[1:5] = ["0", "0", "0", "0"]
        lines = [lines[0]] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("edit", "row"),
    [
        ("missing_column", "header"),
        ("unsorted_ts", "row 4"),  # row 3 now holds minute 4, row 4 minute 3: the later is out
        ("duplicate_ts", "row 3"),
        ("high_below_low", "row 3"),
        ("negative_volume", "row 3"),
        ("open_outside_range", "row 3"),
        ("non_positive_price", "row 3"),
    ],
)
def test_each_bad_row_rule_stops_the_backtest(
    tmp_path: Path, tbot_home: Path, capsys: pytest.CaptureFixture[str], edit: str, row: str
) -> None:
    root = write_data_set(tmp_path / "user_bars")
    broken = rewrite_bbb(root, edit)
    assert main([*backtest(root), "--home", str(tbot_home)]) == 2
    message = capsys.readouterr().err
    assert str(broken) in message
    assert f"{row}: {edit}" in message
    assert not (tbot_home / "tbot_bot/output/trades/backtest").exists()


def test_missing_manifest_names_the_file(
    tmp_path: Path, tbot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_data_set(tmp_path / "user_bars")
    (root / "manifest.json").unlink()
    assert main([*backtest(root), "--home", str(tbot_home)]) == 2
    assert "manifest.json is missing" in capsys.readouterr().err


def to_parquet(root: Path) -> None:
    """Replace every bars CSV with a Parquet file of the same columns (floats, tz-aware ts)."""
    for csv_file in sorted((root / "bars_1m").glob("*.csv")):
        rows = [line.split(",") for line in csv_file.read_text().splitlines()[1:]]
        table = pa.table(
            {
                "ts_utc": pa.array([r[0].replace("Z", "+00:00") for r in rows], pa.string()).cast(
                    pa.timestamp("s", tz="UTC")
                ),
                **{
                    name: pa.array([float(r[i]) for r in rows], pa.float64())
                    for i, name in enumerate(HEADER[1:5], start=1)
                },
                "volume": pa.array([int(r[5]) for r in rows], pa.int64()),
            }
        )
        pq.write_table(table, csv_file.with_suffix(".parquet"))
        csv_file.unlink()


def test_parquet_and_csv_bars_give_the_same_trades(
    tmp_path: Path, tbot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = {}
    for kind in ("csv", "parquet"):
        root = write_data_set(tmp_path / kind)
        if kind == "parquet":
            to_parquet(root)
        assert main([*backtest(root), "--home", str(tbot_home / kind)]) == 0
        printed = capsys.readouterr().out
        (run,) = (tbot_home / kind / "tbot_bot/output/trades/backtest").iterdir()
        assert run.name in printed  # the run folder and the metrics table are printed
        assert "trade_count" in printed
        trades = json.loads((run / "trades/BTEST_USA_SIM_01_BOT_trade_history.json").read_text())
        results[kind] = [
            {k: v for k, v in r.items() if not k.endswith("fitids")} for r in trades["records"]
        ]
    assert results["csv"], "the tiny set's AAA breakout trades"
    assert results["csv"] == results["parquet"]


def test_bad_override_names_the_key(
    tmp_path: Path, tbot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_data_set(tmp_path / "user_bars")
    code = main([*backtest(root, "--set", "MAX_TRADES=lots", "--set", "NOT_A_KEY=1")])
    assert code == 2
    err = capsys.readouterr().err
    assert "MAX_TRADES='lots'" in err or "MAX_TRADES=lots" in err
    assert "NOT_A_KEY" in err
    assert not (tbot_home / "tbot_bot/output").exists()
