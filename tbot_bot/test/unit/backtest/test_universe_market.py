"""The in-memory universe, the SIM market window and the sampling clock of a backtest."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tbot_bot.backtest.config import BacktestRequest, resolve_settings
from tbot_bot.backtest.engine import SamplingClock
from tbot_bot.backtest.market import SessionWindowReplay, market_view, replay_sessions
from tbot_bot.backtest.universe import select_universe
from tbot_bot.errors import DataError
from tbot_bot.market.replay_data import ReplayDataSet, load_data_set
from tbot_bot.test.unit.backtest.data_builder import write_data_set

DAY = date(2025, 7, 15)


@pytest.fixture
def data(tmp_path: Path) -> ReplayDataSet:
    return load_data_set(write_data_set(tmp_path / "tiny"))


def settings(**overrides: str) -> object:
    return resolve_settings(BacktestRequest(DAY, DAY, overrides=overrides))


def test_universe_applies_the_screener_filters(data: ReplayDataSet) -> None:
    # Defaults allow NYSE and NASDAQ only: SH (NYSE_ARCA) is dropped by the exchange rule.
    selection = select_universe(data, settings())
    assert selection.symbols == ["AAA", "BBB", "CCC"]  # equal caps: ties by symbol
    assert selection.dropped == {"exchange": 1}
    assert selection.records[0]["exchange"] == "NYSE"
    # lastClose of AAA is 40.00: a 45.00 minimum price removes it.
    narrower = select_universe(data, settings(SCREENER_UNIVERSE_MIN_PRICE="45"))
    assert narrower.symbols == ["BBB", "CCC"]
    assert narrower.dropped == {"exchange": 1, "price": 1}


def test_symbols_narrow_the_universe(data: ReplayDataSet) -> None:
    assert select_universe(data, settings(), symbols=["CCC"]).symbols == ["CCC"]
    with pytest.raises(DataError, match="ZZZ"):
        select_universe(data, settings(), symbols=["ZZZ"])


def test_an_empty_universe_is_an_error_naming_the_reasons(data: ReplayDataSet) -> None:
    with pytest.raises(DataError, match="price"):
        select_universe(data, settings(SCREENER_UNIVERSE_MIN_PRICE="250"))


def test_a_user_universe_file_replaces_reference_csv(data: ReplayDataSet, tmp_path: Path) -> None:
    universe = tmp_path / "mine.json"
    universe.write_text(
        json.dumps(
            [
                {"symbol": "BBB", "exchange": "NASDAQ", "type": "common", "lastClose": 50,
                 "marketCap": 2000000000},
                {"symbol": "QQQQ", "exchange": "NASDAQ", "type": "common", "lastClose": 50,
                 "marketCap": 2000000000},
            ]
        )
    )  # fmt: skip
    selection = select_universe(data, settings(), universe_file=universe)
    assert selection.symbols == ["BBB"]  # QQQQ has no bars in the data set
    assert selection.dropped == {"no_bars_in_data_set": 1}
    with pytest.raises(DataError, match="no such file"):
        select_universe(data, settings(), universe_file=tmp_path / "missing.csv")


def test_market_holds_the_universe_and_the_inverse_etfs(data: ReplayDataSet) -> None:
    selection = select_universe(data, settings(), symbols=["BBB"])
    assert market_view(data, selection).symbols == ["BBB", "SH"]


def test_sessions_skip_partial_days(tmp_path: Path) -> None:
    root = write_data_set(tmp_path / "tiny")
    bars = root / "bars_1m" / "AAA.csv"
    lines = bars.read_text().splitlines()
    bars.write_text("\n".join(lines[:-30]) + "\n")  # the last session loses its last 30 minutes
    data = load_data_set(root)
    assert replay_sessions(data, date(2025, 7, 1), date(2025, 7, 31)) == [date(2025, 7, 14)]
    with pytest.raises(DataError, match="no full session"):
        replay_sessions(data, DAY, DAY)


def test_replay_window_starts_at_the_previous_session(data: ReplayDataSet) -> None:
    window = SessionWindowReplay.for_run(data, [DAY])
    bars = window.bars("AAA")
    assert bars[0].ts_utc == datetime(2025, 7, 14, 13, 30, tzinfo=UTC)
    assert len(bars) == 2 * 390
    later = SessionWindowReplay(data, [DAY])
    assert later.bars("AAA")[0].ts_utc == datetime(2025, 7, 15, 13, 30, tzinfo=UTC)
    assert list(window.vix_points()) == list(data.vix())


def test_sampling_clock_reports_each_move_once() -> None:
    start = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)
    clock = SamplingClock(start)
    seen: list[datetime] = []
    clock.listener = seen.append
    clock.sleep_until(start)  # no move
    clock.sleep_until(start - timedelta(minutes=1))  # never backwards
    clock.sleep_until(start + timedelta(minutes=1))
    assert seen == [start + timedelta(minutes=1)]
